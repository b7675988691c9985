// Status and Result<T>: how every fallible operation in cellgate reports an operating error.
//
// A Status is ok or carries one code from a small closed set and a human-readable reason.
// Bugs are not Statuses: they trip CG_ASSERT (assert.h) and crash. Hostile input must always
// come back as a Status, never reach an assertion. Values are cheap to move; the reason string
// is only allocated on failure. Not thread-safe beyond ordinary value semantics.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <variant>

#include "gateway/common/assert.h"

namespace cg {

// The closed set of operating-error codes. Callers branch on the code; the reason is for people.
enum class Code : std::uint8_t {
  ok = 0,
  malformed,        // input does not parse or violates its format's structural rules
  unauthenticated,  // a MAC, signature or key check failed, or the peer is unknown
  rejected,         // well-formed and authentic, but refused by policy, version, expiry or replay
  overloaded,       // a bound was reached; the caller should back off and retry
  io,               // the operating system or a storage layer failed
};

std::string_view code_name(Code code);

class [[nodiscard]] Status final {
 public:
  Status() = default;  // ok
  Status(Code code, std::string reason) : code_(code), reason_(std::move(reason)) {
    CG_ASSERT(code != Code::ok);
  }

  static Status ok_status() { return Status(); }

  bool ok() const { return code_ == Code::ok; }
  Code code() const { return code_; }
  const std::string& reason() const { return reason_; }

  // "malformed: banner does not dominate portion 2"
  std::string to_string() const;

  // Prefixes the reason with context, keeping the code: "policy.toml:12: " + reason.
  Status with_context(std::string_view context) const;

 private:
  Code code_ = Code::ok;
  std::string reason_;
};

inline Status malformed(std::string reason) { return Status(Code::malformed, std::move(reason)); }
inline Status unauthenticated(std::string reason) {
  return Status(Code::unauthenticated, std::move(reason));
}
inline Status rejected(std::string reason) { return Status(Code::rejected, std::move(reason)); }
inline Status overloaded(std::string reason) { return Status(Code::overloaded, std::move(reason)); }
inline Status io_error(std::string reason) { return Status(Code::io, std::move(reason)); }

// Result<T>: a T or a failed Status. Accessing the value of a failed result is a bug (asserts).
template <typename T>
class [[nodiscard]] Result final {
 public:
  Result(T value) : v_(std::move(value)) {}        // NOLINT(google-explicit-constructor)
  Result(Status status) : v_(std::move(status)) {  // NOLINT(google-explicit-constructor)
    CG_ASSERT(!std::get<Status>(v_).ok());
  }

  bool ok() const { return std::holds_alternative<T>(v_); }
  explicit operator bool() const { return ok(); }

  const Status& status() const {
    static const Status kOk;
    return ok() ? kOk : std::get<Status>(v_);
  }

  T& value() & {
    CG_ASSERT(ok());
    return std::get<T>(v_);
  }
  const T& value() const& {
    CG_ASSERT(ok());
    return std::get<T>(v_);
  }
  T&& value() && {
    CG_ASSERT(ok());
    return std::get<T>(std::move(v_));
  }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }
  T&& operator*() && { return std::move(*this).value(); }

 private:
  std::variant<T, Status> v_;
};

}  // namespace cg

// Propagates a failed Status from an expression returning Status.
#define CG_RETURN_IF_ERROR(expr)             \
  do {                                       \
    ::cg::Status cg_status_ = (expr);        \
    if (!cg_status_.ok()) return cg_status_; \
  } while (0)

#define CG_CONCAT_INNER_(a, b) a##b
#define CG_CONCAT_(a, b) CG_CONCAT_INNER_(a, b)

// CG_ASSIGN_OR_RETURN(auto x, expr): evaluates a Result, returns its Status on failure.
#define CG_ASSIGN_OR_RETURN(lhs, expr) \
  CG_ASSIGN_OR_RETURN_IMPL_(CG_CONCAT_(cg_result_, __LINE__), lhs, expr)
#define CG_ASSIGN_OR_RETURN_IMPL_(tmp, lhs, expr) \
  auto tmp = (expr);                              \
  if (!tmp.ok()) return tmp.status();             \
  lhs = std::move(tmp).value()
