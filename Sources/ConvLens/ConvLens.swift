// The public umbrella module: `import ConvLens` brings the whole library.
@_exported import ConvLensCore
@_exported import ConvLensExport
@_exported import ConvLensGraph
@_exported import ConvLensImaging
@_exported import ConvLensProjection

/// The library's version, reported by `convlens --version` and recorded in every manifest.
public let convLensVersion = "0.1.0"
