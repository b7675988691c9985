// Helpers shared by the files of gateway/policy. Not for other modules.
#pragma once

#include <string>
#include <string_view>

#include "gateway/policy/policy.h"

namespace cg::policy::detail {

// `*` matches any run of bytes (including none); every other byte matches itself.
bool glob_match(std::string_view pattern, std::string_view text);

// True when every name a glob list `b` can match is matched by a glob of `a`, as far as can
// be proven cheaply: equal patterns, "*", or a trailing-star prefix of a literal prefix.
bool globs_cover(const std::vector<std::string>& a, const std::vector<std::string>& b);

// True when every item condition `b` matches is also matched by `a` (a's set of items is a
// superset): then a rule with `b` after a rule with `a` can never be reached. Conservative:
// false when it cannot be proven.
bool covers(const Condition& a, const Condition& b);

// A Hyperscan regex matching `term` literally (every non-alphanumeric byte as \xHH).
std::string escape_literal(std::string_view term);

}  // namespace cg::policy::detail
