/// A colour with red, green and blue components in `[0, 1]`.
///
/// Rendering code works with unit colours; ``Canvas`` scales them to the `0...255` samples of an
/// ``Image`` when it draws.
public struct RGB: Sendable, Hashable {
    public var red: Float
    public var green: Float
    public var blue: Float

    public init(red: Float, green: Float, blue: Float) {
        self.red = red
        self.green = green
        self.blue = blue
    }

    /// A gray of intensity `value` (0 black, 1 white).
    public init(gray value: Float) { self.init(red: value, green: value, blue: value) }

    public static let black = RGB(gray: 0)
    public static let white = RGB(gray: 1)
    public static let red = RGB(red: 1, green: 0, blue: 0)
    public static let blue = RGB(red: 0, green: 0, blue: 1)
}
