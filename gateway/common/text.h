// Text helpers for output meant for people and scripts. Pure functions, thread-safe.
#pragma once

#include <string>
#include <string_view>

namespace cg {

// The contents of a JSON string literal (without quotes) for `s`: escapes quotes, backslashes
// and control characters, so untrusted text cannot break a JSON line.
std::string json_escape(std::string_view s);

}  // namespace cg
