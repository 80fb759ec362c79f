#include <pthread.h>
#include "doll_lua.h"
#include <string.h>

static doll_lua_dispatch_fn g_dispatch = 0;
static volatile sig_atomic_t g_interrupted = 0;

void doll_lua_set_dispatch(doll_lua_dispatch_fn fn) { g_dispatch = fn; }

static int doll_trampoline(lua_State *L) {
    int id = (int)lua_tointeger(L, lua_upvalueindex(1));
    if (!g_dispatch) return luaL_error(L, "doll: Swift dispatcher not registered");
    int n = g_dispatch(L, id);
    if (n == DOLL_LUA_ERROR) return lua_error(L);  /* message already on the stack */
    return n;
}

void doll_lua_push_function(lua_State *L, int id) {
    lua_pushinteger(L, id);
    lua_pushcclosure(L, doll_trampoline, 1);
}

int doll_lua_interrupted(void) { return g_interrupted != 0; }
void doll_lua_clear_interrupt(void) { g_interrupted = 0; }
void doll_lua_request_interrupt(void) { g_interrupted = 1; }

static void doll_sigint(int sig) { (void)sig; g_interrupted = 1; }

void doll_lua_install_sigint(void) {
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = doll_sigint;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, 0);
    /* A parent may have started us with SIGINT blocked (libdispatch workers block signals and
     * children inherit the mask): unblock it, or Ctrl-C would never arrive. */
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGINT);
    pthread_sigmask(SIG_UNBLOCK, &set, 0);
}

static void doll_hook(lua_State *L, lua_Debug *ar) {
    (void)ar;
    if (g_interrupted) {
        g_interrupted = 0;
        luaL_error(L, "interrupted");
    }
}

void doll_lua_install_interrupt_hook(lua_State *L) { lua_sethook(L, doll_hook, LUA_MASKCOUNT, 10000); }

static int doll_traceback(lua_State *L) {
    const char *msg = lua_tostring(L, 1);
    if (msg == NULL) {
        if (luaL_callmeta(L, 1, "__tostring") && lua_type(L, -1) == LUA_TSTRING) return 1;
        msg = lua_pushfstring(L, "(error object is a %s value)", luaL_typename(L, 1));
    }
    luaL_traceback(L, L, msg, 1);
    return 1;
}

int doll_lua_pcall_traceback(lua_State *L, int nargs, int nresults) {
    int base = lua_gettop(L) - nargs;
    lua_pushcfunction(L, doll_traceback);
    lua_insert(L, base);
    int status = lua_pcall(L, nargs, nresults, base);
    lua_remove(L, base);
    return status;
}

int doll_lua_gc_kib(lua_State *L) { return lua_gc(L, LUA_GCCOUNT, 0); }
void doll_lua_gc_collect(lua_State *L) { lua_gc(L, LUA_GCCOLLECT, 0); }

static int doll_print(lua_State *L) {
    doll_lua_print_sink sink = (doll_lua_print_sink)lua_touserdata(L, lua_upvalueindex(1));
    int n = lua_gettop(L);
    luaL_Buffer b;
    luaL_buffinit(L, &b);
    for (int i = 1; i <= n; i++) {
        size_t len;
        const char *s = luaL_tolstring(L, i, &len);   /* may raise: only C frames between here and pcall */
        if (i > 1) luaL_addchar(&b, '\t');
        luaL_addvalue(&b);
        (void)s; (void)len;
    }
    luaL_addchar(&b, '\n');
    luaL_pushresult(&b);
    size_t len;
    const char *text = lua_tolstring(L, -1, &len);
    sink(L, text, len);
    return 0;
}

void doll_lua_push_print(lua_State *L, doll_lua_print_sink sink) {
    lua_pushlightuserdata(L, (void *)sink);
    lua_pushcclosure(L, doll_print, 1);
}

static int doll_tolstring_call(lua_State *L) {
    luaL_tolstring(L, 1, NULL);
    return 1;
}

int doll_lua_tolstring_protected(lua_State *L, int index) {
    index = lua_absindex(L, index);
    if (!lua_checkstack(L, 4)) return LUA_ERRMEM;
    lua_pushcfunction(L, doll_tolstring_call);
    lua_pushvalue(L, index);
    return lua_pcall(L, 1, 1, 0);
}
