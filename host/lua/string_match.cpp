// long: a port of lstrlib.c's matcher kept in one piece, to be read against the original.
// string.find, string.match, string.gmatch and string.gsub for the sandbox:
// Lua 5.1's pattern matcher (lstrlib.c, MIT licence, same semantics) with
// the run's deadline checked every few thousand steps and its recursion
// bounded. LuaJIT's own matcher is a C function that no hook can interrupt:
// a backtracking pattern (".-.-.-.-x" over a long subject) would run for
// hours past any time budget.
#include <cctype>
#include <cstddef>
#include <cstring>

#include "lua/boundary.hpp"
#include "lua/host.hpp"
#include "lua/sandbox.hpp"

namespace moonshift::lua {
namespace {

constexpr char esc = '%';
constexpr const char* specials = "^$*+?.([%-";
constexpr int max_captures = 32;
constexpr int max_depth = 2000;              // nested match() calls: "pattern too complex"
constexpr unsigned long check_every = 4096;  // steps between deadline checks
constexpr std::ptrdiff_t cap_unfinished = -1, cap_position = -2;

unsigned char uc(char c) { return static_cast<unsigned char>(c); }

struct match_state {
    const char *src_init, *src_end;
    lua_State* L;
    host* h;
    int level = 0, depth = 0;
    unsigned long steps = 0;
    struct {
        const char* init;
        std::ptrdiff_t len;
    } capture[max_captures];

    // The watchdog's deadline, checked here because no hook runs in C.
    void tick() {
        if (++steps % check_every == 0) h->check_deadline();
    }
};

const char* match(match_state* ms, const char* s, const char* p);

int check_capture(match_state* ms, int l) {
    l -= '1';
    if (l < 0 || l >= ms->level || ms->capture[l].len == cap_unfinished)
        return luaL_error(ms->L, "invalid capture index");
    return l;
}

int capture_to_close(match_state* ms) {
    for (int level = ms->level - 1; level >= 0; level--)
        if (ms->capture[level].len == cap_unfinished) return level;
    return luaL_error(ms->L, "invalid pattern capture");
}

const char* class_end(match_state* ms, const char* p) {
    switch (*p++) {
        case esc:
            if (*p == '\0') luaL_error(ms->L, "malformed pattern (ends with '%%')");
            return p + 1;
        case '[':
            if (*p == '^') p++;
            do {
                if (*p == '\0') luaL_error(ms->L, "malformed pattern (missing ']')");
                if (*(p++) == esc && *p != '\0') p++;
            } while (*p != ']');
            return p + 1;
        default:
            return p;
    }
}

int match_class(int c, int cl) {
    int res;
    switch (std::tolower(cl)) {
        case 'a':
            res = std::isalpha(c);
            break;
        case 'c':
            res = std::iscntrl(c);
            break;
        case 'd':
            res = std::isdigit(c);
            break;
        case 'l':
            res = std::islower(c);
            break;
        case 'p':
            res = std::ispunct(c);
            break;
        case 's':
            res = std::isspace(c);
            break;
        case 'u':
            res = std::isupper(c);
            break;
        case 'w':
            res = std::isalnum(c);
            break;
        case 'x':
            res = std::isxdigit(c);
            break;
        case 'z':
            res = (c == 0);
            break;
        default:
            return cl == c;
    }
    if (std::isupper(cl)) res = !res;
    return res;
}

int match_bracket_class(int c, const char* p, const char* ec) {
    int sig = 1;
    if (*(p + 1) == '^') {
        sig = 0;
        p++;
    }
    while (++p < ec) {
        if (*p == esc) {
            p++;
            if (match_class(c, uc(*p))) return sig;
        } else if (*(p + 1) == '-' && p + 2 < ec) {
            p += 2;
            if (uc(*(p - 2)) <= c && c <= uc(*p)) return sig;
        } else if (uc(*p) == c) {
            return sig;
        }
    }
    return !sig;
}

int single_match(int c, const char* p, const char* ep) {
    switch (*p) {
        case '.':
            return 1;
        case esc:
            return match_class(c, uc(*(p + 1)));
        case '[':
            return match_bracket_class(c, p, ep - 1);
        default:
            return uc(*p) == c;
    }
}

const char* match_balance(match_state* ms, const char* s, const char* p) {
    if (*p == 0 || *(p + 1) == 0) luaL_error(ms->L, "unbalanced pattern");
    if (s >= ms->src_end || *s != *p) return nullptr;
    int b = *p, e = *(p + 1), cont = 1;
    while (++s < ms->src_end) {
        ms->tick();
        if (*s == e) {
            if (--cont == 0) return s + 1;
        } else if (*s == b) {
            cont++;
        }
    }
    return nullptr;
}

const char* max_expand(match_state* ms, const char* s, const char* p, const char* ep) {
    std::ptrdiff_t i = 0;
    while (s + i < ms->src_end && single_match(uc(*(s + i)), p, ep)) {
        ms->tick();
        i++;
    }
    for (; i >= 0; i--)
        if (const char* res = match(ms, s + i, ep + 1)) return res;
    return nullptr;
}

const char* min_expand(match_state* ms, const char* s, const char* p, const char* ep) {
    for (;;) {
        if (const char* res = match(ms, s, ep + 1)) return res;
        if (s < ms->src_end && single_match(uc(*s), p, ep))
            s++;
        else
            return nullptr;
    }
}

const char* start_capture(match_state* ms, const char* s, const char* p, std::ptrdiff_t what) {
    int level = ms->level;
    if (level >= max_captures) luaL_error(ms->L, "too many captures");
    ms->capture[level].init = s;
    ms->capture[level].len = what;
    ms->level = level + 1;
    const char* res = match(ms, s, p);
    if (!res) ms->level--;
    return res;
}

const char* end_capture(match_state* ms, const char* s, const char* p) {
    int l = capture_to_close(ms);
    ms->capture[l].len = s - ms->capture[l].init;
    const char* res = match(ms, s, p);
    if (!res) ms->capture[l].len = cap_unfinished;
    return res;
}

const char* match_capture(match_state* ms, const char* s, int l) {
    l = check_capture(ms, l);
    auto len = static_cast<std::size_t>(ms->capture[l].len);
    if (static_cast<std::size_t>(ms->src_end - s) >= len &&
        std::memcmp(ms->capture[l].init, s, len) == 0)
        return s + len;
    return nullptr;
}

// The default case of match(): a single character class and its quantifier.
// Returns the result, or sets *s, *p and returns `again` to go on.
const char* const again = "";
const char* match_item(match_state* ms, const char*& s, const char*& p) {
    const char* ep = class_end(ms, p);
    int m = s < ms->src_end && single_match(uc(*s), p, ep);
    switch (*ep) {
        case '?': {
            if (m)
                if (const char* res = match(ms, s + 1, ep + 1)) return res;
            p = ep + 1;
            return again;
        }
        case '*':
            return max_expand(ms, s, p, ep);
        case '+':
            return m ? max_expand(ms, s + 1, p, ep) : nullptr;
        case '-':
            return min_expand(ms, s, p, ep);
        default:
            if (!m) return nullptr;
            s++;
            p = ep;
            return again;
    }
}

// The %b, %f and %1 items; nullptr = no match, again = go on.
const char* match_escape(match_state* ms, const char*& s, const char*& p) {
    switch (*(p + 1)) {
        case 'b':
            s = match_balance(ms, s, p + 2);
            if (!s) return nullptr;
            p += 4;
            return again;
        case 'f': {
            p += 2;
            if (*p != '[') luaL_error(ms->L, "missing '[' after '%%f' in pattern");
            const char* ep = class_end(ms, p);
            char previous = s == ms->src_init ? '\0' : *(s - 1);
            char current = s < ms->src_end ? *s : '\0';
            if (match_bracket_class(uc(previous), p, ep - 1) ||
                !match_bracket_class(uc(current), p, ep - 1))
                return nullptr;
            p = ep;
            return again;
        }
        default:
            if (std::isdigit(uc(*(p + 1)))) {
                s = match_capture(ms, s, uc(*(p + 1)));
                if (!s) return nullptr;
                p += 2;
                return again;
            }
            return match_item(ms, s, p);
    }
}

const char* match(match_state* ms, const char* s, const char* p) {
    if (++ms->depth > max_depth) luaL_error(ms->L, "pattern too complex");
    const char* res = again;
    while (res == again) {
        ms->tick();
        switch (*p) {
            case '(':
                res = *(p + 1) == ')' ? start_capture(ms, s, p + 2, cap_position)
                                      : start_capture(ms, s, p + 1, cap_unfinished);
                break;
            case ')':
                res = end_capture(ms, s, p + 1);
                break;
            case esc:
                res = match_escape(ms, s, p);
                break;
            case '\0':
                res = s;
                break;
            case '$':
                if (*(p + 1) == '\0') {
                    res = s == ms->src_end ? s : nullptr;
                    break;
                }
                res = match_item(ms, s, p);
                break;
            default:
                res = match_item(ms, s, p);
        }
    }
    ms->depth--;
    return res;
}

void push_one_capture(match_state* ms, int i, const char* s, const char* e) {
    if (i >= ms->level) {
        if (i != 0) luaL_error(ms->L, "invalid capture index");
        lua_pushlstring(ms->L, s, static_cast<std::size_t>(e - s));
        return;
    }
    std::ptrdiff_t l = ms->capture[i].len;
    if (l == cap_unfinished) luaL_error(ms->L, "unfinished capture");
    if (l == cap_position)
        lua_pushinteger(ms->L, ms->capture[i].init - ms->src_init + 1);
    else
        lua_pushlstring(ms->L, ms->capture[i].init, static_cast<std::size_t>(l));
}

int push_captures(match_state* ms, const char* s, const char* e) {
    int n = (ms->level == 0 && s) ? 1 : ms->level;
    luaL_checkstack(ms->L, n, "too many captures");
    for (int i = 0; i < n; i++) push_one_capture(ms, i, s, e);
    return n;
}

void start(match_state& ms, lua_State* L, const char* s, std::size_t len) {
    ms.L = L;
    ms.h = &host_of(L);
    ms.src_init = s;
    ms.src_end = s + len;
}

int find_aux(lua_State* L, bool find) {
    std::size_t l1 = 0, l2 = 0;
    const char* s = luaL_checklstring(L, 1, &l1);
    const char* p = luaL_checklstring(L, 2, &l2);
    auto init = static_cast<std::ptrdiff_t>(luaL_optinteger(L, 3, 1));
    if (init < 0) init += static_cast<std::ptrdiff_t>(l1) + 1;
    init = init < 1 ? 0 : init - 1;
    if (init > static_cast<std::ptrdiff_t>(l1)) init = static_cast<std::ptrdiff_t>(l1);
    if (find && (lua_toboolean(L, 4) || std::strpbrk(p, specials) == nullptr)) {
        // Plain search: std::string_view::find is linear enough and ends.
        std::string_view hay(s + init, l1 - static_cast<std::size_t>(init));
        auto at = hay.find(std::string_view(p, l2));
        if (at != std::string_view::npos) {
            lua_pushinteger(L, init + static_cast<std::ptrdiff_t>(at) + 1);
            lua_pushinteger(L, init + static_cast<std::ptrdiff_t>(at + l2));
            return 2;
        }
    } else {
        match_state ms;
        start(ms, L, s, l1);
        bool anchor = *p == '^';
        if (anchor) p++;
        const char* s1 = s + init;
        do {
            ms.level = 0;
            ms.depth = 0;
            if (const char* res = match(&ms, s1, p)) {
                if (!find) return push_captures(&ms, s1, res);
                lua_pushinteger(L, s1 - s + 1);
                lua_pushinteger(L, res - s);
                return push_captures(&ms, nullptr, nullptr) + 2;
            }
        } while (s1++ < ms.src_end && !anchor);
    }
    lua_pushnil(L);
    return 1;
}

int str_find(lua_State* L) { return find_aux(L, true); }
int str_match(lua_State* L) { return find_aux(L, false); }

int gmatch_aux(lua_State* L) {
    std::size_t ls = 0;
    const char* s = lua_tolstring(L, lua_upvalueindex(1), &ls);
    const char* p = lua_tostring(L, lua_upvalueindex(2));
    match_state ms;
    start(ms, L, s, ls);
    for (const char* src = s + lua_tointeger(L, lua_upvalueindex(3)); src <= ms.src_end; src++) {
        ms.level = 0;
        ms.depth = 0;
        if (const char* e = match(&ms, src, p)) {
            lua_Integer next = e - s;
            if (e == src) next++;  // an empty match: go on at least one character
            lua_pushinteger(L, next);
            lua_replace(L, lua_upvalueindex(3));
            return push_captures(&ms, src, e);
        }
    }
    return 0;
}

int str_gmatch(lua_State* L) {
    luaL_checkstring(L, 1);
    luaL_checkstring(L, 2);
    lua_settop(L, 2);
    lua_pushinteger(L, 0);
    lua_pushcclosure(L, bind<gmatch_aux>, 3);
    return 1;
}

void add_s(match_state* ms, luaL_Buffer* b, const char* s, const char* e) {
    std::size_t l = 0;
    const char* news = lua_tolstring(ms->L, 3, &l);
    for (std::size_t i = 0; i < l; i++) {
        if (news[i] != esc) {
            luaL_addchar(b, news[i]);
            continue;
        }
        i++;
        if (!std::isdigit(uc(news[i]))) {
            luaL_addchar(b, news[i]);
        } else if (news[i] == '0') {
            luaL_addlstring(b, s, static_cast<std::size_t>(e - s));
        } else {
            push_one_capture(ms, news[i] - '1', s, e);
            luaL_addvalue(b);
        }
    }
}

void add_value(match_state* ms, luaL_Buffer* b, const char* s, const char* e) {
    lua_State* L = ms->L;
    switch (lua_type(L, 3)) {
        case LUA_TFUNCTION: {
            lua_pushvalue(L, 3);
            int n = push_captures(ms, s, e);
            call_or_throw(L, n, 1);  // user code: the protected path
            break;
        }
        case LUA_TTABLE:
            push_one_capture(ms, 0, s, e);
            lua_gettable(L, 3);
            break;
        default:
            add_s(ms, b, s, e);
            return;
    }
    if (!lua_toboolean(L, -1)) {
        lua_pop(L, 1);
        lua_pushlstring(L, s, static_cast<std::size_t>(e - s));
    } else if (!lua_isstring(L, -1)) {
        luaL_error(L, "invalid replacement value (a %s)", luaL_typename(L, -1));
    }
    luaL_addvalue(b);
}

int str_gsub(lua_State* L) {
    std::size_t srcl = 0;
    const char* src = luaL_checklstring(L, 1, &srcl);
    const char* p = luaL_checkstring(L, 2);
    int tr = lua_type(L, 3);
    auto max_s =
        static_cast<lua_Integer>(luaL_optinteger(L, 4, static_cast<lua_Integer>(srcl) + 1));
    luaL_argcheck(L,
                  tr == LUA_TNUMBER || tr == LUA_TSTRING || tr == LUA_TFUNCTION || tr == LUA_TTABLE,
                  3, "string/function/table expected");
    bool anchor = *p == '^';
    if (anchor) p++;
    lua_Integer n = 0;
    match_state ms;
    start(ms, L, src, srcl);
    luaL_Buffer b;
    luaL_buffinit(L, &b);
    while (n < max_s) {
        ms.level = 0;
        ms.depth = 0;
        const char* e = match(&ms, src, p);
        if (e) {
            n++;
            add_value(&ms, &b, src, e);
        }
        if (e && e > src)
            src = e;
        else if (src < ms.src_end)
            luaL_addchar(&b, *src++);
        else
            break;
        if (anchor) break;
    }
    luaL_addlstring(&b, src, static_cast<std::size_t>(ms.src_end - src));
    luaL_pushresult(&b);
    lua_pushinteger(L, n);
    return 2;
}

}  // namespace

void replace_string_matching(lua_State* L, int string_table) {
    static const luaL_Reg functions[] = {
        {"find", bind<str_find>},
        {"match", bind<str_match>},
        {"gmatch", bind<str_gmatch>},
        {"gsub", bind<str_gsub>},
    };
    for (const auto& f : functions) {
        lua_pushcfunction(L, f.func);
        lua_setfield(L, string_table, f.name);
    }
}

}  // namespace moonshift::lua
