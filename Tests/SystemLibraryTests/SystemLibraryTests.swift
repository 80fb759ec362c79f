import CBLAS
import CJPEG
import CLua
import CPNG
import CReadline
import Testing

/// The system-library modulemaps resolve, link and call into each library.
@Suite struct SystemLibraryTests {
    @Test func librariesLinkAndAnswer() {
        let L = luaL_newstate()
        #expect(L != nil)
        #expect(lua_version(L) == 504)
        lua_close(L)
        #expect(png_access_version_number() >= 10600)
        var err = jpeg_error_mgr()
        #expect(jpeg_std_error(&err) != nil)
        using_history()
        add_history("doll")
        let line = history_list()?[0]?.pointee.line.map { String(cString: $0) }
        #expect(line == "doll")
        clear_history()
        #expect(!String(cString: openblas_get_corename()).isEmpty)
    }
}
