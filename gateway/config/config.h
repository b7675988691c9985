// gateway/config: one TOML file per node, validated completely at start.
//
// A config either loads whole or not at all: every error names the file, line and column and
// what is wrong (unknown key, wrong type, value out of its safe range, section not allowed
// for the node's role, missing required key). Limits may be lowered from their defaults but
// never raised past gateway/common/limits.h. Network listeners are loopback-only unless
// `allow_non_loopback = true` is set in [node] (a deliberate deployment decision).
//
// The format is documented in docs/CONFIG.md with a full example per role.
// Pure functions; thread-safe.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "gateway/common/status.h"

namespace cg::config {

enum class Role { gateway, relay, receiver };
std::string_view role_name(Role role);

struct CurvePeer {
  std::string id;
  std::string curve_public;  // Z85
};

struct Ingest {  // gateway
  std::string listen = "tcp://127.0.0.1:7001";
  std::string curve_secret_file;
  std::uint32_t batch_items_max = 256;
  std::uint64_t inbox_items_max = 100'000;
  std::vector<CurvePeer> sources;
};

struct Deliver {  // receiver
  std::string listen = "tcp://127.0.0.1:7201";
  std::string curve_secret_file;
  std::uint32_t window_max = 1024;
  std::uint32_t redeliver_after_ms = 10'000;
  std::vector<CurvePeer> consumers;
};

struct Metrics {
  std::string listen;  // host:port on loopback; empty = no metrics endpoint
};

struct NodeConfig {
  std::string source_file;  // where it was read from (for messages)
  std::string id;
  std::string party;
  Role role = Role::gateway;
  std::string store;  // directory
  std::uint64_t store_bytes_max = std::uint64_t{1} << 30;
  bool allow_non_loopback = false;
  Metrics metrics;
  std::optional<Ingest> ingest;
  std::optional<Deliver> deliver;
};

// Parses `text` (named `source_name` in errors). Relative paths are resolved against the
// directory of `source_name`. Errors: malformed, with "file:line:col: what".
Result<NodeConfig> parse(std::string_view text, const std::string& source_name);
// Reads and parses a file (at most 1 MiB). Errors: io, malformed.
Result<NodeConfig> load(const std::string& path);

}  // namespace cg::config
