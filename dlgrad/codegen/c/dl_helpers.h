/* dlgrad scalar helpers: numerically stable forms and derivative conventions.
   Every helper exists for double and, with an f suffix, for float.
   dl_to_float32 rounds through a volatile float: gcc 12 at -O3 vectorises
   (double)(float)x into x, dropping the rounding. dl_atan2_d(u, v) = v / (u^2 + v^2),
   through hypot where the sum of squares overflows (above 1e154) or is subnormal. */
#define DL_HELPERS(T, F, SUFFIX) \
static inline T dl_sigmoid##SUFFIX(T x) { \
    T z = exp##F(-fabs##F(x)); \
    return x >= 0 ? 1 / (1 + z) : z / (1 + z); \
} \
static inline T dl_softplus##SUFFIX(T x) { \
    return (x > 0 ? x : 0) + log1p##F(exp##F(-fabs##F(x))); \
} \
static inline T dl_relu##SUFFIX(T x) { return x > 0 ? x : (x != x ? x : 0); } \
static inline T dl_step##SUFFIX(T x) { return x > 0 ? 1 : 0; } \
static inline T dl_sign##SUFFIX(T x) { return x > 0 ? 1 : (x < 0 ? -1 : (x != x ? x : 0)); } \
static inline T dl_abs##SUFFIX(T x) { return fabs##F(x); } \
static inline T dl_floor##SUFFIX(T x) { return floor##F(x); } \
static inline T dl_ceil##SUFFIX(T x) { return ceil##F(x); } \
static inline T dl_round##SUFFIX(T x) { return nearbyint##F(x); } \
static inline T dl_max##SUFFIX(T a, T b) { return a > b ? a : (b > a ? b : (a != a ? a : b)); } \
static inline T dl_min##SUFFIX(T a, T b) { return a < b ? a : (b < a ? b : (a != a ? a : b)); } \
static inline T dl_gt##SUFFIX(T a, T b) { return a > b ? 1 : 0; } \
static inline T dl_ge##SUFFIX(T a, T b) { return a >= b ? 1 : 0; } \
static inline T dl_lt##SUFFIX(T a, T b) { return a < b ? 1 : 0; } \
static inline T dl_le##SUFFIX(T a, T b) { return a <= b ? 1 : 0; } \
static inline T dl_eq##SUFFIX(T a, T b) { return a == b ? 1 : 0; } \
static inline T dl_ne##SUFFIX(T a, T b) { return a != b ? 1 : 0; } \
static inline T dl_atan2_d##SUFFIX(T u, T v) { \
    const T s = u * u + v * v, h = hypot##F(u, v); \
    return isnormal(s) ? v / s : (v / h) / h; \
} \
static inline T dl_to_float32##SUFFIX(T x) { volatile float f = (float)x; return f; }
DL_HELPERS(double, , )
DL_HELPERS(float, f, f)
#undef DL_HELPERS
