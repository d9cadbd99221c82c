/*
 * ohncp_api_level.h - API levels at compile time (not part of the SDK; the
 * other headers include it).
 *
 * Every declaration of the headers carries the API level that introduced
 * it (OHNCP_SINCE(n)). Build with -DOHNCP_API_LEVEL=N for a device of API
 * level N and a declaration above N is unavailable: using it is a compile
 * error naming its level, where on that device the program would fail to
 * load. N is a major level (20, 26) or major * 100 + minor (2601 for 26.1).
 * Without OHNCP_API_LEVEL everything is available. Compilers without the
 * `unavailable` attribute (GCC before 12) give a deprecation warning.
 */
#ifndef OHNCP_API_LEVEL_H
#define OHNCP_API_LEVEL_H

#if defined(OHNCP_API_LEVEL) && OHNCP_API_LEVEL >= 100
#define OHNCP_API_LEVEL_X100_ (OHNCP_API_LEVEL)
#elif defined(OHNCP_API_LEVEL)
#define OHNCP_API_LEVEL_X100_ ((OHNCP_API_LEVEL) * 100)
#endif

#if defined(__clang__) || (defined(__GNUC__) && __GNUC__ >= 12)
#define OHNCP_UNAVAILABLE_(level)                                                                  \
    __attribute__((unavailable("introduced in API level " level ", above OHNCP_API_LEVEL")))
#else
#define OHNCP_UNAVAILABLE_(level)                                                                  \
    __attribute__((deprecated("introduced in API level " level ", above OHNCP_API_LEVEL")))
#endif

/* OHNCP_SINCE(22), OHNCP_SINCE(26_1): after a declarator or an enumerator. */
#define OHNCP_SINCE(level) OHNCP_SINCE_##level

/* The same for a type name (a typedef, callback or enum type). GCC's C
 * front end also refuses an unavailable type in a declaration that is
 * unavailable itself (the functions that take it), so there types are not
 * marked: the functions that use them still are. */
#if defined(__clang__) || defined(__cplusplus)
#define OHNCP_SINCE_T(level) OHNCP_SINCE_##level
#else
#define OHNCP_SINCE_T(level)
#endif

/* One per level that introduced something in these headers. */
#if defined(OHNCP_API_LEVEL_X100_) && OHNCP_API_LEVEL_X100_ < 800
#define OHNCP_SINCE_8 OHNCP_UNAVAILABLE_("8")
#else
#define OHNCP_SINCE_8
#endif
#if defined(OHNCP_API_LEVEL_X100_) && OHNCP_API_LEVEL_X100_ < 1100
#define OHNCP_SINCE_11 OHNCP_UNAVAILABLE_("11")
#else
#define OHNCP_SINCE_11
#endif
#if defined(OHNCP_API_LEVEL_X100_) && OHNCP_API_LEVEL_X100_ < 1200
#define OHNCP_SINCE_12 OHNCP_UNAVAILABLE_("12")
#else
#define OHNCP_SINCE_12
#endif
#if defined(OHNCP_API_LEVEL_X100_) && OHNCP_API_LEVEL_X100_ < 1300
#define OHNCP_SINCE_13 OHNCP_UNAVAILABLE_("13")
#else
#define OHNCP_SINCE_13
#endif
#if defined(OHNCP_API_LEVEL_X100_) && OHNCP_API_LEVEL_X100_ < 1500
#define OHNCP_SINCE_15 OHNCP_UNAVAILABLE_("15")
#else
#define OHNCP_SINCE_15
#endif
#if defined(OHNCP_API_LEVEL_X100_) && OHNCP_API_LEVEL_X100_ < 1700
#define OHNCP_SINCE_17 OHNCP_UNAVAILABLE_("17")
#else
#define OHNCP_SINCE_17
#endif
#if defined(OHNCP_API_LEVEL_X100_) && OHNCP_API_LEVEL_X100_ < 1800
#define OHNCP_SINCE_18 OHNCP_UNAVAILABLE_("18")
#else
#define OHNCP_SINCE_18
#endif
#if defined(OHNCP_API_LEVEL_X100_) && OHNCP_API_LEVEL_X100_ < 2000
#define OHNCP_SINCE_20 OHNCP_UNAVAILABLE_("20")
#else
#define OHNCP_SINCE_20
#endif
#if defined(OHNCP_API_LEVEL_X100_) && OHNCP_API_LEVEL_X100_ < 2100
#define OHNCP_SINCE_21 OHNCP_UNAVAILABLE_("21")
#else
#define OHNCP_SINCE_21
#endif
#if defined(OHNCP_API_LEVEL_X100_) && OHNCP_API_LEVEL_X100_ < 2200
#define OHNCP_SINCE_22 OHNCP_UNAVAILABLE_("22")
#else
#define OHNCP_SINCE_22
#endif
#if defined(OHNCP_API_LEVEL_X100_) && OHNCP_API_LEVEL_X100_ < 2600
#define OHNCP_SINCE_26 OHNCP_UNAVAILABLE_("26.0.0")
#else
#define OHNCP_SINCE_26
#endif
#if defined(OHNCP_API_LEVEL_X100_) && OHNCP_API_LEVEL_X100_ < 2601
#define OHNCP_SINCE_26_1 OHNCP_UNAVAILABLE_("26.1.0")
#else
#define OHNCP_SINCE_26_1
#endif

#endif /* OHNCP_API_LEVEL_H */
