// Invariant checks that stay on in every build, release included (STYLE.md habit 4).
//
// CG_ASSERT guards conditions that only a bug can break. It prints the condition and location
// to stderr and aborts. Never use it for input from outside the process: that is a Status.
#pragma once

namespace cg::detail {
[[noreturn]] void assert_fail(const char* condition, const char* file, int line,
                              const char* message) noexcept;
}  // namespace cg::detail

#define CG_ASSERT(cond)                                              \
  do {                                                               \
    if (!(cond)) [[unlikely]]                                        \
      ::cg::detail::assert_fail(#cond, __FILE__, __LINE__, nullptr); \
  } while (0)

#define CG_ASSERT_MSG(cond, msg)                                   \
  do {                                                             \
    if (!(cond)) [[unlikely]]                                      \
      ::cg::detail::assert_fail(#cond, __FILE__, __LINE__, (msg)); \
  } while (0)

#define CG_UNREACHABLE() ::cg::detail::assert_fail("unreachable", __FILE__, __LINE__, nullptr)
