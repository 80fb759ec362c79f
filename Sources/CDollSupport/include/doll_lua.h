#ifndef DOLL_LUA_H
#define DOLL_LUA_H
/* The bridge between Lua and Swift. Lua reports errors with longjmp, which must never cross
 * Swift frames. Every Swift function exposed to Lua is called through the C trampoline below:
 * the Swift side validates its arguments by hand, and on failure pushes a message and returns
 * DOLL_LUA_ERROR; the trampoline (C) then calls lua_error. Calls from Swift into Lua use
 * lua_pcall only. */
#include <lua.h>
#include <lauxlib.h>
#include <lualib.h>
#include <signal.h>

#define DOLL_LUA_ERROR (-1)
/* Importable constants (macro expressions are not visible to Swift). */
static const int DOLL_LUA_ERROR_CODE = DOLL_LUA_ERROR;
static const int DOLL_LUA_REGISTRYINDEX = LUA_REGISTRYINDEX;

/* Swift dispatcher: (state, function id) -> number of results, or DOLL_LUA_ERROR with the
 * error message on top of the stack. */
typedef int (*doll_lua_dispatch_fn)(lua_State *L, int id);

/* Registers the dispatcher (once per process). */
void doll_lua_set_dispatch(doll_lua_dispatch_fn fn);

/* Pushes a Lua C closure that calls the dispatcher with `id`. */
void doll_lua_push_function(lua_State *L, int id);

/* Set by the SIGINT handler; cleared by doll_lua_clear_interrupt. */
int doll_lua_interrupted(void);
void doll_lua_clear_interrupt(void);
void doll_lua_request_interrupt(void);

/* Installs a SIGINT handler that sets the flag (the previous handler is replaced). */
void doll_lua_install_sigint(void);

/* Installs a count hook that raises "interrupted" inside running Lua code when the flag is set. */
void doll_lua_install_interrupt_hook(lua_State *L);

/* Runs lua_pcall with a traceback message handler; returns the status. On error the message
 * (with traceback) is on top of the stack. */
int doll_lua_pcall_traceback(lua_State *L, int nargs, int nresults);

/* Lua's `print`, written in C so that a failing __tostring raises a Lua error as in stock Lua:
 * arguments converted with luaL_tolstring, joined by tabs, ending in a newline, then handed to
 * the sink (which must not raise). */
typedef void (*doll_lua_print_sink)(lua_State *L, const char *text, size_t length);
void doll_lua_push_print(lua_State *L, doll_lua_print_sink sink);

/* luaL_tolstring of the value at `index`, protected: returns 0 with the string on top of the
 * stack, or non-zero with the error message on top (a __tostring or __name that fails). */
int doll_lua_tolstring_protected(lua_State *L, int index);

/* lua_gc is variadic (not importable into Swift): KiB in use / full collection. */
int doll_lua_gc_kib(lua_State *L);
void doll_lua_gc_collect(lua_State *L);

#endif
