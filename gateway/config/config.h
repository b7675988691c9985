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

enum class Role { gateway, relay, receiver, guard };
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

// A one-way link endpoint (gateway/link). Both ends must agree on link_id and the fragment
// settings; a mismatch is detected and reported by the receiver from the sender's heartbeats.
struct LinkCommon {
  std::string name;           // for logs and metrics ("to-relay", "from-il")
  std::string party;          // relay: the party this link reaches / comes from
  std::uint32_t link_id = 0;  // distinguishes links sharing a key or a host
  std::string key_file;       // 32-byte link MAC key (cellgate keygen --link)
  std::uint32_t data_fragments = 64;
  std::uint32_t parity_fragments = 16;
  std::uint32_t datagram_bytes = 1472;
};
struct LinkOut : LinkCommon {
  std::string peer;  // host:port the datagrams go to
  std::uint64_t rate_bytes_per_s = 50'000'000;
  std::uint32_t interleave_depth = 4;
};
struct LinkIn : LinkCommon {
  std::string listen;  // host:port to bind
  std::uint64_t rcvbuf_bytes = 32u << 20;
  std::uint32_t block_timeout_ms = 1000;
};
struct Keys {
  std::string signing_key;      // this node's private signing key file
  std::string agreement_key;    // static key-agreement key (relay, receiver); may be empty
  std::string passphrase_file;  // empty: key files must be stored unencrypted (and say so)
  std::string trust_root;       // the pinned trust root file
};
struct Pipeline {            // gateway
  std::string rules_bundle;  // the approved rules bundle file, re-read on SIGHUP / change
  std::uint32_t batch_items_max = 256;       // envelopes under one batch signature
  std::uint32_t batch_wait_ms = 5;           // longest a routine item waits for its batch to fill
  std::uint64_t epoch_items_max = 1u << 20;  // epoch key rotation by count
  std::uint32_t epoch_seconds = 3600;        // and by age
  // Sent envelopes are kept this long (re-sent after a crash, or to fill a reported gap).
  std::uint32_t sent_retention_seconds = 86'400;
  std::string psk_file;  // always empty: `psk_file` is refused until the nodes use one
};
struct Relay {
  std::uint32_t freshness_seconds = 600;  // envelopes older than this are dropped as stale
  std::vector<std::string> routes;        // "il->sy": origin party -> destination party allowed
  std::vector<std::string> kinds;         // kinds the oversight policy lets through (empty: all)
};

// Receiver (issue 10): gap recovery and relay audit through this party's own outbound path.
// The receiver is a source of its party's gateway: it submits its signed reports (gap ranges
// and the latest tree head it verified) and hands on the other party's reports about that
// gateway's envelopes.
struct Recovery {
  std::string gateway;               // the gateway's ingest endpoint, tcp://host:port
  std::string gateway_curve_public;  // its CURVE public key (Z85)
  std::string curve_secret_file;     // this receiver's CURVE secret key as a source
  std::string source_id;     // as the gateway's [[ingest.source]] names it (default: node id)
  std::string label_policy;  // labelling policy of the gateway's rules ("cell-2026")
  std::uint32_t report_interval_ms = 1000;    // how often due gaps are reported
  std::uint32_t report_after_ms = 3000;       // missing this long before it is reported
  std::uint32_t rereport_after_ms = 5000;     // not asked again sooner
  std::uint32_t give_up_seconds = 3600;       // then abandoned, with an alarm
  std::uint32_t gossip_interval_ms = 10'000;  // a report without gaps, to share the tree head
};

// A gateway's release guard (issue 17): the separate process that alone holds the gateway's
// signing key. With [guard], the gateway (the filter) holds no signing key: [keys] names none.
struct GuardClient {
  std::string endpoint;             // tcp://127.0.0.1:P, where the guard listens
  std::string curve_public;         // the guard's CURVE public key (Z85)
  std::string curve_secret_file;    // the filter's own CURVE secret key
  std::uint32_t timeout_ms = 5000;  // one request's answer; then asked again
};
// The guard role's own section: whom it serves and how it rotates epochs.
struct GuardService {
  std::string listen = "tcp://127.0.0.1:7101";
  std::string curve_secret_file;    // the guard's CURVE secret key
  std::string filter_curve_public;  // the one filter it answers (Z85)
  std::string gateway;              // the gateway node id it signs as (in the trust root)
  std::uint64_t epoch_items_max = 1u << 20;
  std::uint32_t epoch_seconds = 3600;
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
  std::optional<Keys> keys;
  std::optional<Pipeline> pipeline;
  std::optional<Relay> relay;
  std::optional<Recovery> recovery;           // receiver
  std::optional<GuardClient> guard;           // gateway: its separate release guard
  std::optional<GuardService> guard_service;  // guard: [guard] of a guard node
  std::vector<LinkOut> links_out;
  std::vector<LinkIn> links_in;
};

// Parses `text` (named `source_name` in errors). Relative paths are resolved against the
// directory of `source_name`. Errors: malformed, with "file:line:col: what".
Result<NodeConfig> parse(std::string_view text, const std::string& source_name);
// Reads and parses a file (at most 1 MiB). Errors: io, malformed; a FIFO, device or directory
// is refused (io, "not a regular file") without blocking on it.
Result<NodeConfig> load(const std::string& path);

// Whether `path` names a readable regular file. Opened with O_NONBLOCK and checked with fstat,
// so a FIFO is refused instead of blocking the caller. Errors: io naming the path and why
// ("no such file", "not a regular file (FIFO)", ...).
Status regular_file(const std::string& path);

// Every file the config names (keys, passphrase, trust root, link keys, CURVE secrets, rules
// bundle): each must be a readable regular file. Errors: io naming the key and the file.
Status check_files(const NodeConfig& config);

}  // namespace cg::config
