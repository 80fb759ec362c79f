import CDollSupport
import CPNG
import DollTensor
import Foundation

/// An error reading or writing an image or data file, naming the file and the problem.
public struct DataError: DollError, Equatable {
    public let message: String
    public init(_ message: String) { self.message = message }
}

/// Decoded 8- or 16-bit pixels before conversion to Float.
public struct RawImage: Sendable {
    public var width: Int, height: Int
    /// Channels per pixel (1 gray, 3 RGB, 4 RGBA).
    public var channels: Int
    /// Bits per sample: 8 or 16.
    public var bitDepth: Int
    /// Samples in row-major order (16-bit values stored as-is, 8-bit in 0...255).
    public var samples: [UInt16]
}

/// Image files ⇄ tensors. Decoders never trap or longjmp through Swift: libpng and libjpeg are
/// used through C shims that catch their longjmp (PNG samples are read raw, without gamma);
/// the PNG writer uses libpng's simplified API, whose errors come back as return codes. Images larger than `maxPixels` are rejected from their header, before any pixel
/// buffer is allocated.
public enum ImageIO {
    // libpng simplified-API format codes (composed macros are not imported into Swift).
    static let formatGray: UInt32 = 0, formatRGB: UInt32 = 2, formatRGBA: UInt32 = 3, formatLinearY: UInt32 = 4

    /// Largest image accepted, in pixels: `DOLL_MAX_PIXELS` or 32 megapixels (5792², several times
    /// a CheXpert or JSRT radiograph; an 8192² file would decode to over half a gigabyte).
    nonisolated(unsafe) public static var maxPixels: Int = {
        if let v = ProcessInfo.processInfo.environment["DOLL_MAX_PIXELS"].flatMap({ Int($0) }), v > 0 { return v }
        return 1 << 25
    }()

    /// The error for an image over the limit, saying how to raise it.
    static func tooLarge(_ kind: String, _ w: Int, _ h: Int) -> DataError {
        DataError(
            "\(kind) is \(w)x\(h) pixels, more than the limit of \(maxPixels) pixels "
                + "(set DOLL_MAX_PIXELS or ImageIO.maxPixels to accept larger images)")
    }

    /// Reads a PNG or JPEG (chosen by magic bytes) as a grayscale tensor `[1, H, W]` in [0, 1].
    /// Colour is converted to luminance; 16-bit PNGs keep their full precision.
    public static func readGray(path: String) throws -> Tensor {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw DataError("cannot read image file '\(path)'")
        }
        do { return try decodeGray(data) } catch let e as DataError { throw DataError("\(path): \(e.message)") }
    }

    /// Decodes PNG or JPEG bytes to `[1, H, W]` in [0, 1].
    public static func decodeGray(_ data: Data) throws -> Tensor {
        let b = [UInt8](data.prefix(8))
        if b.count >= 8 && b == [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A] {
            let raw = try decodePNG(data, gray: true)
            let scale = 1 / Float(raw.bitDepth == 16 ? 65535 : 255)
            return try Tensor(raw.samples.map { Float($0) * scale }, shape: [1, raw.height, raw.width])
        }
        if b.count >= 3 && b[0] == 0xFF && b[1] == 0xD8 && b[2] == 0xFF {
            return try decodeJPEGGray(data)
        }
        throw DataError("not a PNG or JPEG file (unrecognised magic bytes)")
    }

    /// Decodes a PNG to gray (any colour type converted to luminance, alpha dropped) at the
    /// file's bit depth, or to RGBA 8-bit. Samples are the stored values: no gamma or colour
    /// profile is applied (`doll_png_decode`).
    public static func decodePNG(_ data: Data, gray: Bool) throws -> RawImage {
        var out: UnsafeMutablePointer<UInt16>? = nil
        var w: UInt32 = 0, h: UInt32 = 0
        var channels: Int32 = 0, depth: Int32 = 0
        var err = [CChar](repeating: 0, count: 256)
        let rc = data.withUnsafeBytes { raw in
            doll_png_decode(
                raw.baseAddress!.assumingMemoryBound(to: UInt8.self), raw.count, UInt64(maxPixels), gray ? 0 : 1,
                &out, &w, &h, &channels, &depth, &err, err.count)
        }
        if rc == -2 { throw tooLarge("PNG", Int(w), Int(h)) }
        guard rc == 0, let out else { throw DataError("corrupt PNG: \(cString(err))") }
        defer { doll_free(out) }
        guard w > 0, h > 0 else { throw DataError("PNG is \(w)x\(h) pixels") }
        let n = Int(w) * Int(h) * Int(channels)
        return RawImage(
            width: Int(w), height: Int(h), channels: Int(channels), bitDepth: Int(depth),
            samples: Array(UnsafeBufferPointer(start: out, count: n)))
    }

    private static func message(of image: inout png_image) -> String {
        withUnsafeBytes(of: &image.message) { raw in
            let bytes = raw.prefix { $0 != 0 }
            return String(decoding: bytes, as: UTF8.self)
        }
    }

    /// Decodes a JPEG to `[1, H, W]` in [0, 1] (colour converted to luminance by libjpeg).
    public static func decodeJPEGGray(_ data: Data) throws -> Tensor {
        var out: UnsafeMutablePointer<UInt8>? = nil
        var w: Int32 = 0, h: Int32 = 0
        var err = [CChar](repeating: 0, count: 256)
        let rc = data.withUnsafeBytes { raw in
            doll_jpeg_decode_gray(
                raw.baseAddress!.assumingMemoryBound(to: UInt8.self), raw.count, UInt64(maxPixels), &out, &w, &h, &err,
                err.count)
        }
        guard rc == 0, let out else {
            let msg = cString(err)
            if msg.contains("more than the limit") {
                throw DataError(msg + " pixels (set DOLL_MAX_PIXELS or ImageIO.maxPixels to accept larger images)")
            }
            throw DataError("corrupt JPEG: \(msg)")
        }
        defer { doll_free(out) }
        let n = Int(w) * Int(h)
        let t = try Tensor(repeating: 0, shape: [1, Int(h), Int(w)])
        var r = t
        r.withUnsafeMutableBufferPointer { p in for i in 0..<n { p[i] = Float(out[i]) / 255 } }
        return r
    }

    /// Encodes 8-bit gray (1 channel) or RGB (3 channels) pixels as JPEG.
    public static func encodeJPEG(
        pixels: [UInt8], width: Int, height: Int, channels: Int, quality: Int = 90
    ) throws -> Data {
        guard pixels.count == width * height * channels else {
            throw DataError("JPEG encode: \(pixels.count) bytes for \(width)x\(height)x\(channels)")
        }
        var out: UnsafeMutablePointer<UInt8>? = nil
        var size = 0
        var err = [CChar](repeating: 0, count: 256)
        let rc = doll_jpeg_encode(
            pixels, Int32(width), Int32(height), Int32(channels), Int32(quality), &out, &size, &err, err.count)
        guard rc == 0, let out else { throw DataError("JPEG encode failed: \(cString(err))") }
        defer { doll_free(out) }
        return Data(bytes: out, count: size)
    }

    /// Encodes pixels as PNG: 8-bit gray (channels 1), RGB (3) or RGBA (4), or 16-bit gray.
    public static func encodePNG(
        samples: [UInt16], width: Int, height: Int, channels: Int, bitDepth: Int = 8
    ) throws -> Data {
        guard width > 0, height > 0, [1, 3, 4].contains(channels), bitDepth == 8 || (bitDepth == 16 && channels == 1),
            samples.count == width * height * channels
        else {
            throw DataError(
                "PNG encode: need \(width)x\(height)x\(channels) samples at 8 bits (or 16-bit gray), got \(samples.count)"
            )
        }
        var image = png_image()
        image.version = UInt32(PNG_IMAGE_VERSION)
        image.width = UInt32(width); image.height = UInt32(height)
        image.format =
            bitDepth == 16 ? formatLinearY : (channels == 1 ? formatGray : (channels == 3 ? formatRGB : formatRGBA))
        defer { png_image_free(&image) }
        var size: png_alloc_size_t = 0
        let ok: Int32
        if bitDepth == 16 {
            ok = samples.withUnsafeBytes { src in
                guard png_image_write_to_memory(&image, nil, &size, 0, src.baseAddress, 0, nil) != 0 else { return 0 }
                return 1
            }
        } else {
            let bytes = samples.map { UInt8(clamping: $0) }
            ok = bytes.withUnsafeBytes { src in
                png_image_write_to_memory(&image, nil, &size, 0, src.baseAddress, 0, nil)
            }
        }
        guard ok != 0 else { throw DataError("PNG encode failed: \(message(of: &image))") }
        var out = Data(count: Int(size))
        let ok2: Int32 = out.withUnsafeMutableBytes { dst in
            if bitDepth == 16 {
                return samples.withUnsafeBytes {
                    png_image_write_to_memory(&image, dst.baseAddress, &size, 0, $0.baseAddress, 0, nil)
                }
            }
            let bytes = samples.map { UInt8(clamping: $0) }
            return bytes.withUnsafeBytes {
                png_image_write_to_memory(&image, dst.baseAddress, &size, 0, $0.baseAddress, 0, nil)
            }
        }
        guard ok2 != 0 else { throw DataError("PNG encode failed: \(message(of: &image))") }
        return out.prefix(Int(size))
    }

    /// Writes a gray tensor (`[H, W]` or `[1, H, W]`, values clamped to [0, 1]) as an 8- or
    /// 16-bit grayscale PNG, atomically.
    public static func writeGray(_ t: Tensor, to path: String, bitDepth: Int = 8) throws {
        guard t.rank == 2 || (t.rank == 3 && t.shape[0] == 1) else {
            throw DataError("a gray image must be [H, W] or [1, H, W], got \(shapeString(t.shape))")
        }
        let h = t.shape[t.rank - 2], w = t.shape[t.rank - 1]
        let maxV: Float = bitDepth == 16 ? 65535 : 255
        let samples = t.scalars.map { v -> UInt16 in
            let c = v.isNaN ? 0 : Swift.min(Swift.max(v, 0), 1)
            return UInt16((c * maxV).rounded())
        }
        try AtomicFile.write(
            try encodePNG(samples: samples, width: w, height: h, channels: 1, bitDepth: bitDepth), to: path)
    }

    /// Writes 8-bit RGB or RGBA bytes as PNG, atomically.
    public static func writeRGB(bytes: [UInt8], width: Int, height: Int, channels: Int = 3, to path: String) throws {
        try AtomicFile.write(
            try encodePNG(samples: bytes.map(UInt16.init), width: width, height: height, channels: channels), to: path)
    }
}

/// A NUL-terminated C buffer as a String.
func cString(_ buffer: [CChar]) -> String {
    String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
}
