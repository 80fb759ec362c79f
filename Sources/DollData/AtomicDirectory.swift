import CDollSupport
import DollTensor
import Foundation

/// Directories written all or nothing: the contents go into a fresh temporary sibling
/// (`.NAME.tmp-PID-RANDOM`), are fsynced, then swapped in with one atomic exchange. A crash at
/// any point leaves either the old or the new directory at the path; temporaries of dead
/// processes are removed by the next write beside them.
public enum AtomicDirectory {
    /// Fills a temporary directory with `fill` and swaps it in at `path`, replacing what was
    /// there. Where the file system has no atomic exchange, the old directory is first moved to
    /// `.NAME.previous` (readers fall back to it).
    public static func replace(_ path: String, fill: (String) throws -> Void) throws {
        let fm = FileManager.default
        let target = (path as NSString).standardizingPath
        let parent = parentDirectory(target).isEmpty ? "." : parentDirectory(target)
        let base = (target as NSString).lastPathComponent
        do { try fm.createDirectory(atPath: parent, withIntermediateDirectories: true) } catch {
            throw DataError("cannot create the folder '\(parent)': \(fileErrorMessage(error))")
        }
        removeStaleTemporaries(parent: parent, base: base)
        let tmp = parent + "/.\(base).tmp-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
        do { try fm.createDirectory(atPath: tmp, withIntermediateDirectories: false) } catch {
            throw DataError("cannot write into '\(parent)': \(fileErrorMessage(error))")
        }
        do {
            try fill(tmp)
            _ = doll_fsync_directory(tmp)
            var isDir: ObjCBool = false
            if fm.fileExists(atPath: target, isDirectory: &isDir) {
                guard isDir.boolValue else { throw DataError("'\(target)' exists and is not a folder") }
                if doll_rename_exchange(tmp, target) != 0 {
                    let previous = parent + "/.\(base).previous"
                    try? fm.removeItem(atPath: previous)
                    guard rename(target, previous) == 0, rename(tmp, target) == 0 else {
                        throw DataError("cannot replace '\(target)': \(String(cString: strerror(errno)))")
                    }
                    try? fm.removeItem(atPath: previous)
                } else {
                    try? fm.removeItem(atPath: tmp)  // now holds the old contents
                }
            } else {
                guard rename(tmp, target) == 0 else {
                    throw DataError("cannot create '\(target)': \(String(cString: strerror(errno)))")
                }
            }
            _ = doll_fsync_directory(parent)
        } catch {
            try? fm.removeItem(atPath: tmp)
            throw error
        }
    }

    /// Removes `.BASE.tmp-PID-*` files and folders in `parent` whose process is gone.
    public static func removeStaleTemporaries(parent: String, base: String) {
        let prefix = ".\(base).tmp-"
        for name in (try? FileManager.default.contentsOfDirectory(atPath: parent)) ?? [] where name.hasPrefix(prefix) {
            let pid = Int32(name.dropFirst(prefix.count).prefix { $0.isNumber }) ?? 0
            if pid > 0, pid != getpid(), kill(pid, 0) != 0 && errno == ESRCH {
                try? FileManager.default.removeItem(atPath: parent + "/" + name)
            }
        }
    }
}

/// A file-system error from Foundation as a sentence naming what happened and where (its own
/// text is "The operation could not be completed" or "NSCocoaErrorDomain Code=642").
public func fileErrorMessage(_ error: Error) -> String {
    guard let e = error as? CocoaError else { return "\(error)" }
    let path = e.filePath ?? e.url?.path
    var what: String
    switch e.code {
    case .fileNoSuchFile, .fileReadNoSuchFile: what = "no such file or folder"
    case .fileReadNoPermission, .fileWriteNoPermission: what = "permission denied"
    case .fileWriteOutOfSpace: what = "no space left on the device"
    case .fileWriteVolumeReadOnly: what = "the file system is read-only"
    case .fileWriteFileExists: what = "a file of that name is in the way"
    case .fileReadCorruptFile: what = "the file is corrupt"
    case .fileReadInapplicableStringEncoding: what = "the file is not text in the expected encoding"
    default:
        if let posix = (e.userInfo[NSUnderlyingErrorKey] as? NSError), posix.domain == NSPOSIXErrorDomain {
            what = String(cString: strerror(Int32(posix.code)))
        } else {
            what = "file operation failed (code \(e.code.rawValue))"
        }
    }
    if let path { what += " ('\(path)')" }
    return what
}
