import DollData
import Foundation

/// A grid of pictures with a title above each tile.
///
/// ```swift
/// let grid = try Montage(columns: 3, tileWidth: 192, tileHeight: 192)([a, b, c, d], titles: ["a", "b", "c", "d"])
/// ```
///
/// Every tile is fitted into `tileWidth × tileHeight` keeping its aspect ratio (centred, the
/// rest filled with `background`); titles longer than the tile are shortened with `..`.
/// Tiles fill rows left to right, top to bottom; an unfilled last row stays background.
public struct Montage: Sendable {
    /// Tiles per row; `nil` picks `ceil(sqrt(n))`.
    public var columns: Int?
    /// Tile size; `nil` takes the first picture's width/height.
    public var tileWidth: Int?
    public var tileHeight: Int?
    /// Space around and between tiles, in pixels.
    public var padding: Int
    public var background: Color
    public var titleColor: Color
    /// Integer text scale of the titles.
    public var titleScale: Int
    /// Optional title over the whole grid (drawn at twice `titleScale`).
    public var title: String

    public init(
        columns: Int? = nil, tileWidth: Int? = nil, tileHeight: Int? = nil, padding: Int = 6,
        background: Color = .white, titleColor: Color = .black, titleScale: Int = 1, title: String = ""
    ) {
        self.columns = columns
        self.tileWidth = tileWidth
        self.tileHeight = tileHeight
        self.padding = padding
        self.background = background
        self.titleColor = titleColor
        self.titleScale = titleScale
        self.title = title
    }

    /// The grid of `images`; `titles` (if not empty) must have one entry per image.
    public func callAsFunction(_ images: [RGBImage], titles: [String] = []) throws -> RGBImage {
        guard !images.isEmpty else { throw DataError("montage: no images given") }
        guard titles.isEmpty || titles.count == images.count else {
            throw DataError("montage: \(titles.count) titles for \(images.count) images (give one per image, or none)")
        }
        let n = images.count
        let cols = min(n, columns ?? Int(Double(n).squareRoot().rounded(.up)))
        guard cols >= 1 else { throw DataError("montage: columns must be at least 1, got \(columns ?? 0)") }
        guard padding >= 0, titleScale >= 1 else { throw DataError("montage: padding must be ≥ 0 and titleScale ≥ 1") }
        let rows = (n + cols - 1) / cols
        let tw = tileWidth ?? images[0].width, th = tileHeight ?? images[0].height
        try RGBImage.checkSize(tw, th)
        let s = titleScale
        let titleH = titles.isEmpty ? 0 : BitmapFont.glyphHeight * s + 4
        let headH = title.isEmpty ? 0 : BitmapFont.glyphHeight * 2 * s + padding
        let cellH = titleH + th
        let width = padding + cols * (tw + padding)
        let height = headH + padding + rows * (cellH + padding)
        try RGBImage.checkSize(width, height)
        var out = try RGBImage(width: width, height: height, fill: background)
        if !title.isEmpty {
            let t = BitmapFont.truncate(title, toWidth: width - 2 * padding, scale: 2 * s)
            out.drawText(t, centerX: width / 2, y: padding, color: titleColor, scale: 2 * s)
        }
        for (i, img) in images.enumerated() {
            let x = padding + (i % cols) * (tw + padding)
            let y = headH + padding + (i / cols) * (cellH + padding)
            if !titles.isEmpty {
                let t = BitmapFont.truncate(titles[i], toWidth: tw, scale: s)
                out.drawText(t, centerX: x + tw / 2, y: y + 1, color: titleColor, scale: s)
            }
            let tile =
                (img.width == tw && img.height == th)
                ? img : try img.fitted(width: tw, height: th, background: background)
            out.draw(tile, x: x, y: y + titleH)
        }
        return out
    }
}
