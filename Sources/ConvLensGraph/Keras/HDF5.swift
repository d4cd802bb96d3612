internal import CHDF5
import ConvLensCore
import Foundation

/// A read-only HDF5 file: the only code in ConvLens that calls libhdf5 (DESIGN.md §2).
///
/// Handles are owned by this class and closed in `deinit`; every failure becomes a
/// ``ConvLensError`` naming the file and the HDF5 path. HDF5's own error printing is silenced.
final class HDF5File {
    /// Names the file in errors (the `.h5` path, or `archive.keras!model.weights.h5`).
    let source: String
    private let file: hid_t
    /// Keeps a file image alive while HDF5 reads it (core driver).
    private let image: Data?
    /// The largest dataset ConvLens reads (elements): 256 Mi floats.
    static let maxElements = 1 << 28

    /// Serializes libhdf5 calls (the Debian build is not thread-safe).
    private static let lock = NSLock()

    private static func silence() {
        H5Eset_auto2(convlens_h5e_default(), nil, nil)
    }

    /// Opens an HDF5 file on disk.
    init(path: String) throws {
        source = path
        image = nil
        guard FileManager.default.isReadableFile(atPath: path) else {
            throw ConvLensError(.unreadableFile, file: path, "cannot open the file for reading")
        }
        let id: hid_t = HDF5File.lock.withLock {
            HDF5File.silence()
            return H5Fopen(path, convlens_h5f_acc_rdonly(), convlens_h5p_default())
        }
        guard id >= 0 else {
            throw ConvLensError(.malformedFile, file: path, "not a readable HDF5 file (truncated or corrupt)")
        }
        file = id
    }

    /// Opens an HDF5 file held in memory (the core driver reads the image; nothing touches disk).
    init(image data: Data, source: String) throws {
        self.source = source
        image = data
        guard !data.isEmpty else { throw ConvLensError(.malformedFile, file: source, "the HDF5 file is empty") }
        let id: hid_t = HDF5File.lock.withLock {
            HDF5File.silence()
            let fapl = H5Pcreate(convlens_h5p_file_access())
            guard fapl >= 0 else { return -1 }
            defer { H5Pclose(fapl) }
            guard H5Pset_fapl_core(fapl, 1 << 20, false) >= 0 else { return -1 }
            let ok = data.withUnsafeBytes { H5Pset_file_image(fapl, UnsafeMutableRawPointer(mutating: $0.baseAddress), $0.count) }
            guard ok >= 0 else { return -1 }
            return H5Fopen(source, convlens_h5f_acc_rdonly(), fapl)
        }
        guard id >= 0 else {
            throw ConvLensError(.malformedFile, file: source, "not a readable HDF5 file (truncated or corrupt)")
        }
        file = id
    }

    deinit {
        HDF5File.lock.withLock { _ = H5Fclose(file) }
    }

    private func fail(_ path: String, _ detail: String) -> ConvLensError {
        ConvLensError(.malformedFile, file: source, "\(path): \(detail)")
    }

    enum Kind { case group, dataset, other }

    /// What the object at `path` is, or `nil` when nothing is there.
    func kind(_ path: String) -> Kind? {
        HDF5File.lock.withLock {
            guard H5Lexists(file, path, convlens_h5p_default()) > 0 else { return nil }
            let o = H5Oopen(file, path, convlens_h5p_default())
            guard o >= 0 else { return nil }
            defer { H5Oclose(o) }
            switch H5Iget_type(o) {
            case H5I_GROUP: return .group
            case H5I_DATASET: return .dataset
            default: return .other
            }
        }
    }

    /// The names of a group's members, in name order.
    func members(_ path: String) throws -> [String] {
        try HDF5File.lock.withLock {
            let g = H5Gopen2(file, path, convlens_h5p_default())
            guard g >= 0 else { throw fail(path, "is not a group") }
            defer { H5Gclose(g) }
            var info = H5G_info_t()
            guard H5Gget_info(g, &info) >= 0 else { throw fail(path, "cannot list the group") }
            guard info.nlinks < 100_000 else { throw fail(path, "has \(info.nlinks) members") }
            var names: [String] = []
            for i in 0..<info.nlinks {
                let n = H5Lget_name_by_idx(g, ".", H5_INDEX_NAME, H5_ITER_INC, i, nil, 0, convlens_h5p_default())
                guard n >= 0, n < 4096 else { throw fail(path, "cannot read the name of member \(i)") }
                var buf = [CChar](repeating: 0, count: Int(n) + 1)
                guard H5Lget_name_by_idx(g, ".", H5_INDEX_NAME, H5_ITER_INC, i, &buf, Int(n) + 1, convlens_h5p_default()) >= 0 else {
                    throw fail(path, "cannot read the name of member \(i)")
                }
                names.append(String(decoding: buf.prefix(Int(n)).map { UInt8(bitPattern: $0) }, as: UTF8.self))
            }
            return names
        }
    }

    /// A scalar string attribute of the object at `path` (fixed-length or variable-length, ASCII
    /// or UTF-8, read with the attribute's own string type), or `nil` when it is absent or not a
    /// scalar string.
    func stringAttribute(_ name: String, of path: String = "/") throws -> String? {
        try HDF5File.lock.withLock {
            guard H5Aexists_by_name(file, path, name, convlens_h5p_default()) > 0 else { return nil }
            let a = H5Aopen_by_name(file, path, name, convlens_h5p_default(), convlens_h5p_default())
            guard a >= 0 else { throw fail(path, "cannot open the attribute '\(name)'") }
            defer { H5Aclose(a) }
            let fileType = H5Aget_type(a)
            guard fileType >= 0 else { throw fail(path, "cannot read the type of the attribute '\(name)'") }
            defer { H5Tclose(fileType) }
            guard H5Tget_class(fileType) == H5T_STRING else { return nil }
            let space = H5Aget_space(a)
            guard space >= 0 else { throw fail(path, "cannot read the attribute '\(name)'") }
            defer { H5Sclose(space) }
            guard H5Sget_simple_extent_npoints(space) == 1 else { return nil }
            let memType = H5Tcopy(fileType)
            guard memType >= 0 else { throw fail(path, "cannot read the attribute '\(name)'") }
            defer { H5Tclose(memType) }
            if H5Tis_variable_str(fileType) > 0 {
                var ptr: UnsafeMutablePointer<CChar>? = nil
                guard H5Aread(a, memType, &ptr) >= 0 else { throw fail(path, "cannot read the attribute '\(name)'") }
                defer { if let ptr { H5free_memory(ptr) } }
                guard let ptr else { return "" }
                return String(cString: ptr)
            }
            let size = H5Tget_size(fileType)
            guard size > 0, size < 1 << 28 else { throw fail(path, "the attribute '\(name)' has size \(size)") }
            var buf = [UInt8](repeating: 0, count: size + 1)
            guard H5Aread(a, memType, &buf) >= 0 else { throw fail(path, "cannot read the attribute '\(name)'") }
            let end = buf.firstIndex(of: 0) ?? size
            return String(decoding: buf[..<end], as: UTF8.self)
        }
    }

    /// Reads a dataset as fp32 (HDF5 converts float64/float16 data) with its own shape.
    /// - Throws: when it is not a floating-point dataset, is larger than ``maxElements``, or its
    ///   stored data is shorter than its shape says.
    func floatDataset(_ path: String) throws -> Tensor {
        try HDF5File.lock.withLock {
            let d = H5Dopen2(file, path, convlens_h5p_default())
            guard d >= 0 else { throw fail(path, "is not a readable dataset") }
            defer { H5Dclose(d) }
            let t = H5Dget_type(d)
            guard t >= 0 else { throw fail(path, "cannot read the dataset's type") }
            defer { H5Tclose(t) }
            guard H5Tget_class(t) == H5T_FLOAT else { throw fail(path, "is not a floating-point dataset") }
            let elementSize = H5Tget_size(t)
            let space = H5Dget_space(d)
            guard space >= 0 else { throw fail(path, "cannot read the dataset's shape") }
            defer { H5Sclose(space) }
            let rank = H5Sget_simple_extent_ndims(space)
            guard rank >= 0, rank <= 8 else { throw fail(path, "has rank \(rank)") }
            var dims = [hsize_t](repeating: 0, count: Int(rank))
            guard H5Sget_simple_extent_dims(space, &dims, nil) == rank else { throw fail(path, "cannot read the dataset's shape") }
            let shape = dims.map { Int(clamping: $0) }
            guard let count = Shape.checkedCount(shape), count <= HDF5File.maxElements else {
                throw ConvLensError(.absurdSize, file: source, "\(path): the dataset's shape \(shape) is too large")
            }
            // Contiguous (uncompressed) data must be fully present before anything is allocated.
            let plist = H5Dget_create_plist(d)
            if plist >= 0 {
                defer { H5Pclose(plist) }
                if H5Pget_layout(plist) == H5D_CONTIGUOUS, count > 0 {
                    let stored = H5Dget_storage_size(d)
                    guard stored >= hsize_t(count) * hsize_t(elementSize) else {
                        throw fail(path, "holds \(stored) bytes; its shape \(shape) needs \(count * elementSize)")
                    }
                }
            }
            var values = [Float](repeating: 0, count: count)
            if count > 0 {
                let status = values.withUnsafeMutableBytes {
                    H5Dread(d, convlens_h5t_native_float(), convlens_h5s_all(), convlens_h5s_all(), convlens_h5p_default(), $0.baseAddress)
                }
                guard status >= 0 else { throw fail(path, "cannot read the data (the file may be truncated)") }
            }
            return Tensor(shape: Shape(shape), scalars: values)
        }
    }
}
