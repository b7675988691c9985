// bench/lab/deploy: a complete loopback deployment of the cell, laid out in one directory the
// way an operator would lay it out, and the supervisor that runs its nodes as processes.
//
// create() writes, for il-gw-1 (gateway, party il), us-relay (relay, party us) and sy-rx-1
// (receiver, party sy) — and with both_directions also sy-gw-1 (gateway, sy) and il-rx-1
// (receiver, il), each receiver a source of its own party's gateway:
//   keys/     node key files (crypto::write_node_keys), the root and reviewer signing keys,
//             the two link MAC keys (il->us, us->sy), CURVE secret keys (one Z85 line), and
//             with `encrypt_keys` the random passphrase that seals the private key files;
//   trust/root.bin      the trust root, signed by the root key;
//   rules/il.bundle     the il policy proposed as version 1 and approved by il/alice and il/carol
//                       (2 of 3); rules/il-policy.toml is the text they approved;
//   config/<node>.toml  one node config per node (docs/CONFIG.md), relative paths only, so the
//                       directory may be moved;
//   state/<node>/       the nodes' stores;
//   README.txt          what is where.
// Every file with a secret is mode 0600, every directory with secrets 0700.
//
// The deployment's listeners are loopback ports that were free when create() ran (free_port),
// picked below the kernel's ephemeral range and reserved against other deployments on the
// machine for the life of the process; a process that is not a deployment may still take one
// before the nodes start (the nodes then fail to bind and say so).
//
// The node process supervisor is declared in process.h, which this header includes: other
// modules include deploy.h only.
//
// Thread-safety: free functions without shared state; NodeProcess is not thread-safe.
#pragma once

#include <sys/socket.h>

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "bench/lab/deploy/process.h"
#include "crypto/suite.h"
#include "gateway/common/status.h"
#include "gateway/ingest/ingest.h"

namespace cg::deploy {

struct Options {
  std::string dir;          // created if missing (mode 0700); must be empty if it exists
  std::string policy_file;  // the il policy TOML to propose and approve
  // Both directions (issue 10): also sy-gw-1 (gateway, sy) and il-rx-1 (receiver, il), the
  // relay forwarding sy->il too, party sy with its reviewers (sy/dana, sy/erin, sy/farid, 2 of
  // 3) and `sy_policy_file` as its approved bundle; each receiver is a source of its own
  // party's gateway ([recovery]), for gap reports and the exchange of tree heads.
  bool both_directions = false;
  std::string sy_policy_file;
  crypto::SuiteId suite = crypto::SuiteId::modern;
  // true: private key files sealed under a random passphrase written to keys/passphrase (0600),
  // named by [keys] passphrase_file; false: key files stored unencrypted (and say so).
  bool encrypt_keys = false;
  std::uint64_t link_rate_bytes_per_s = 100'000'000;
  // When set, the gateway's [[link_out]] peer is 127.0.0.1:<this port> instead of the relay's
  // link_in port (a test puts a loss proxy in between).
  std::optional<std::uint16_t> gateway_link_peer_port;
  // The same for the other links, by name: "us-sy" (relay → sy-rx-1), "sy-us" (sy-gw-1 →
  // relay), "us-il" (relay → il-rx-1).
  std::map<std::string, std::uint16_t> link_peer_ports;
  // [recovery] of the receivers (both directions), for tests that want faster reports.
  std::uint32_t report_after_ms = 3000, rereport_after_ms = 5000, gossip_interval_ms = 10'000;
  std::uint32_t pipeline_batch_items_max = 256;    // [pipeline] batch_items_max
  std::uint64_t ingest_inbox_items_max = 100'000;  // [ingest] inbox_items_max
  // [node] store_bytes_max of every node. A gateway's store grew by about 4 KB per item in
  // the multi-process tests (inbox, audit record with its explanation, sent log, holds):
  // 2 GiB hold some 500,000 items.
  std::uint64_t store_bytes_max = std::uint64_t{2} << 30;
  // Each gateway's release guard as a process of its own (issue 17): il-guard-1 (and
  // sy-guard-1) holds the gateway's signing key and the gateway's config names none but
  // [guard]. false: the gateway runs the signatory in its own process (a lab, not a deployment).
  bool separate_guard = false;
};

// The other direction of a deployment with both directions: sy-gw-1 → us-relay → il-rx-1.
struct ReverseDirection {
  std::string gateway_config, receiver_config;  // sy-gw-1, il-rx-1
  std::string gateway_store, receiver_store;
  std::string rules_bundle_file, policy_file;  // sy's
  std::string ingest_endpoint, gateway_curve_public;
  std::string source_id;  // "sy-src-1"
  ingest::KeyPair source;
  std::string deliver_endpoint, receiver_curve_public;
  std::string consumer_id;  // "il-consumer-1"
  ingest::KeyPair consumer;
  std::uint16_t relay_link_in_port = 0, receiver_link_in_port = 0;  // from sy; il-rx-1's
  std::uint16_t gateway_metrics_port = 0, receiver_metrics_port = 0;
  std::vector<std::string> reviewer_key_files;  // sy/dana, sy/erin, sy/farid
  // With Options::separate_guard: sy-guard-1.
  std::string guard_config, guard_store;
  std::uint16_t guard_metrics_port = 0;
};

struct Deployment {
  std::string dir;
  std::string gateway_config, relay_config, receiver_config;  // the TOML files
  std::string gateway_store, relay_store, receiver_store;     // the [node] store dirs
  std::string trust_root_file, rules_bundle_file, policy_file;
  std::string ingest_endpoint, gateway_curve_public;  // tcp://127.0.0.1:P, Z85
  std::string source_id;                              // "il-src-1", listed in [[ingest.source]]
  ingest::KeyPair source;
  std::string deliver_endpoint, receiver_curve_public;
  std::string consumer_id;  // "sy-consumer-1", listed in [[deliver.consumer]]
  ingest::KeyPair consumer;
  std::uint16_t relay_link_in_port = 0, receiver_link_in_port = 0;
  std::uint16_t gateway_metrics_port = 0, relay_metrics_port = 0, receiver_metrics_port = 0;
  // il/alice, il/bob, il/carol signing key files (the bundle is approved by alice and carol).
  std::vector<std::string> reviewer_key_files;

  // With Options::separate_guard: il-guard-1, which the gateway's pipeline needs running.
  std::string guard_config, guard_store;
  std::uint16_t guard_metrics_port = 0;

  // The other direction, with Options::both_directions: sy-gw-1 → us-relay → il-rx-1.
  std::optional<ReverseDirection> reverse;
};

// Writes the deployment described above into `options.dir`. Errors: rejected when the
// directory exists and is not empty (or is not a directory), io naming the file that could
// not be read or written, malformed when the policy file is too large or the suite unknown.
Result<Deployment> create(const Options& options);

// A loopback port that was free a moment ago for both TCP and UDP, below the ephemeral range and
// reserved against other deployments' picks while this process lives (deploy.cc says how).
// `kind` (SOCK_STREAM or SOCK_DGRAM) matters only where the kernel must choose. Errors: io.
Result<std::uint16_t> free_port(int kind);

}  // namespace cg::deploy
