// gateway/cli: the `cellgate` command line. main() parses arguments (CLI11) and wires the
// parts explicitly; each subcommand is a function here returning the process exit code.
//
// Exit codes (documented in docs/CLI.md): 0 success; 1 the operation ran and found a problem
// (a rejected item, a failed check, a refused decision, an output file that exists without
// --force); 2 usage or configuration error; 3 I/O error; 4 a decision handed to the running
// gateway got no verdict in time (quarantine release/reject --wait).
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "crypto/keys.h"
#include "gateway/config/config.h"
#include "gateway/wire/wire.h"

namespace cg::cli {

inline constexpr int exit_ok = 0;
inline constexpr int exit_failed = 1;
inline constexpr int exit_usage = 2;
inline constexpr int exit_io = 3;
inline constexpr int exit_no_verdict = 4;

// Writes a command's output file (crypto::write_file with `mode`): nothing already at `path` is
// replaced unless `force`, and even with it a symbolic link or special file is refused, never
// written through. Errors: rejected, its reason naming the file and, where it applies, --force;
// io.
Status write_output(const std::string& path, crypto::Bytes data, unsigned mode, bool force);

// Loads an item file: JSON (first non-blank byte '{') or a serialised Cap'n Proto Item,
// through the same validation as ingest. Errors: io, malformed.
Result<wire::Message<schema::Item>> load_item(const std::string& file);

// `cellgate item check FILE...`: validates each item file and prints ok or the exact reason.
int item_check(const std::vector<std::string>& files, bool json);
// `cellgate item encode IN OUT`: writes IN (JSON or Cap'n Proto) as a serialised Cap'n Proto
// item, canonical, ready for `cellgate send`.
int item_encode(const std::string& in, const std::string& out, bool force = false);
// `cellgate item show FILE`: prints the item as one line of JSON.
int item_show(const std::string& file);

// `cellgate audit verify --store DIR`: walks the node's audit hash chain and names the first
// record that does not fit. Exit 0 intact, 1 broken, 3 store unreadable.
int audit_verify(const std::string& store_dir, bool json);
// `cellgate audit prove --store DIR INDEX [--size N] [--suite S]`: the inclusion proof of the
// relay's log entry INDEX (the `log_index` a consumer sees with each delivery) in the tree of
// N entries (default: all), checked before it is printed, as JSON.
int audit_prove(const std::string& store_dir, std::uint64_t index, std::uint64_t size,
                crypto::SuiteId suite);

// `cellgate audit heads --store DIR --out FILE`: exports the relay's published tree heads a
// receiver kept (the last 65,536), for the other party to check against its own.
int audit_heads(const std::string& store_dir, const std::string& out_file, bool force = false);
// `cellgate audit check-consistency --store DIR --trust-root FILE [--heads FILE]`: re-checks a
// receiver's kept heads (signatures, consistency links), lists the equivocation evidence the
// running receiver recorded, and compares the other party's exported heads with ours serial by
// serial. Exit 0 one consistent history, 1 equivocation found, 2 bad input, 3 unreadable.
int audit_check_consistency(const std::string& store_dir, const std::string& trust_root_file,
                            const std::string& heads_file, bool json);

// `cellgate config check FILE`: loads a node config as `run` would. Exit 0 valid, 2 invalid
// (the reason names file:line:col), 3 unreadable.
int config_check(const std::string& file, bool json);

struct SendOptions {
  std::string gateway;             // e.g. tcp://127.0.0.1:7001
  std::string gateway_key;         // the gateway's CURVE public key (Z85)
  std::string key_file;            // this source's CURVE secret key (Z85, one line)
  std::vector<std::string> files;  // item files (JSON or Cap'n Proto); "-" = JSON lines on stdin
  std::uint64_t window = 64;       // items in flight before waiting for acks
  int timeout_ms = 30'000;
  bool json = false;
  // --stix: every file is a STIX 2.1 bundle; each object becomes one item (gateway/stix).
  bool stix = false;
  std::string stix_source = "stix";  // item.source of the mapped items
  std::string stix_policy = "cell";  // labelling policy id of the produced labels
  std::vector<std::string> stix_levels{"UNCLASSIFIED", "RESTRICTED", "CONFIDENTIAL", "SECRET"};
  std::string stix_default_level = "UNCLASSIFIED";  // label of unmarked content
};
// `cellgate send`: a source client. Prints one line per ack; exit 0 when every item was
// accepted, 1 when any was rejected or invalid, 3 on connection or timeout errors.
int send(const SendOptions& options);
// `cellgate curve keygen --out FILE [--force]`: writes a CURVE secret key (created new, mode
// 0600), prints the public key. An existing file is refused unless `force`.
int curve_keygen(const std::string& out_file, bool force = false);

struct TailOptions {
  std::string receiver;      // e.g. tcp://127.0.0.1:7201
  std::string receiver_key;  // the receiver's CURVE public key (Z85)
  std::string key_file;      // this consumer's CURVE secret key
  std::uint32_t window = 64;
  std::uint64_t count = 0;  // stop after this many items (0 = run until interrupted)
  int idle_exit_ms = 0;     // stop after this long without items (0 = never)
  int timeout_ms = 30'000;
  // "json" (one item per line, cellgate's JSON form) or "stix" (one STIX 2.1 bundle per line
  // holding the object and the markings it was released under; items that did not come from
  // STIX are printed as JSON with a note on stderr).
  std::string format = "json";
  std::vector<std::string> levels{"UNCLASSIFIED", "RESTRICTED", "CONFIDENTIAL", "SECRET"};
};
// `cellgate tail`: a consumer. Prints each delivered item as one JSON line, then acknowledges
// it (at-least-once: an item printed just before a crash is printed again).
int tail(const TailOptions& options);

// `cellgate quarantine list --store DIR [--json]`: the items a gateway holds for review.
int quarantine_list(const std::string& store_dir, bool json);
// `cellgate quarantine show --store DIR ID`: one hold: why it was held, and the item.
int quarantine_show(const std::string& store_dir, std::uint64_t hold);

// `cellgate run --config FILE`: runs the node the config describes until SIGINT/SIGTERM;
// SIGHUP re-reads the rules bundle (gateway).
int run(const std::string& config_file);

// --- Keys, trust roots and the reviewer workflow (trust.cc, policy_cmds.cc) ---------------

// Where a private key comes from: its file and either a passphrase file or the explicit
// decision that it is stored unencrypted.
struct KeyOptions {
  std::string key_file;
  std::string passphrase_file;
  bool unencrypted = false;
};
// The private signing key the options name (trust.cc).
Result<std::unique_ptr<crypto::SigningKey>> load_signer(const KeyOptions& k);
// `cellgate quarantine release|reject --config GATEWAY.toml ID --key FILE [--reason TEXT]
// [--wait S]`: signs the decision's statement on hold ID with a reviewer's key, checks it as the
// gateway will (Quarantine::authorize under the trust root and party its config names: a
// reviewer of that party, a valid signature; a reject needs a reason) and refuses up front what
// the gateway would refuse, then leaves it in the gateway's store (its config's `store`) and
// waits up to `wait_s` for the running gateway's verdict. Exit 0 applied (released and sent,
// or rejected; audited), 1 refused (here or by the gateway) or no such hold, 2 bad config,
// trust root or reason, 3 store or key unreadable, 4 no verdict in time (the request stays and
// is decided when the gateway runs). With wait_s 0: exit 0 once handed over.
struct QuarantineDecisionOptions {
  std::uint64_t hold = 0;
  KeyOptions key;      // the reviewer's signing key
  std::string reason;  // reject: why (signed and audited)
  int wait_s = 10;
};
int quarantine_release(const std::string& config_file, const QuarantineDecisionOptions& o);
int quarantine_reject(const std::string& config_file, const QuarantineDecisionOptions& o);
int quarantine_release(const config::NodeConfig& gateway, const QuarantineDecisionOptions& o);
int quarantine_reject(const config::NodeConfig& gateway, const QuarantineDecisionOptions& o);

struct KeygenOptions {
  std::string node;  // node id: files are <dir>/<node>.sign, .kx (+ .pub)
  std::string dir = ".";
  std::string suite = "modern";
  KeyOptions keys;    // passphrase_file / unencrypted for the files written
  bool link = false;  // --link: write a 32-byte link key to `out` instead
  std::string out;
  bool force = false;  // --force: replace existing key files (never through a symbolic link)
};
// `cellgate keygen`: a node's signing and key-agreement keys, or a link key.
int keygen(const KeygenOptions& options);

// Builds an unsigned trust root (standard framing) from its TOML spec; `read_key` reads a
// public key file named in it. Errors: malformed with file:line:col (unknown keys, wrong
// types, unknown roles, missing keys), or read_key's error at the key's position.
using ReadPublicKey = std::function<Result<crypto::PublicKeyFile>(const std::string& path)>;
Result<std::vector<std::uint8_t>> trust_root_from_spec(std::string_view text,
                                                       const std::string& source_name,
                                                       const ReadPublicKey& read_key);
// `cellgate trust create SPEC.toml --out ROOT`: an unsigned trust root from a readable spec
// (parties with reviewer public key files and thresholds, nodes, root keys).
int trust_create(const std::string& spec_file, const std::string& out, bool force = false);
// `cellgate trust sign ROOT --key K [--out FILE [--force]]`: adds one root key's signature, in
// place (the file signed is updated) or into a new file.
int trust_sign(const std::string& file, const KeyOptions& key, const std::string& out,
               bool force = false);
// `cellgate trust verify ROOT [--previous OLD]`: as a node would accept it first (threshold of
// its own root keys) or as a successor of OLD (thresholds of both). Exit 0 accepted, 1 not.
int trust_verify(const std::string& file, const std::string& previous);

struct RulesProposeOptions {
  std::string policy;            // the policy TOML
  std::string party;             // default: the policy's own party
  std::string previous;          // the bundle it replaces (its version + 1, its hash)
  std::string suite = "modern";  // the deployment suite (its hash names the previous bundle)
  std::uint32_t expires_days = 30;
  std::string out;
  bool force = false;  // --force: replace an existing `out` (its signatures are lost)
};
// `cellgate rules propose POLICY --out BUNDLE`: an unsigned bundle with the next version; the
// policy must load first.
int rules_propose(const RulesProposeOptions& options);
// `cellgate rules approve BUNDLE --key K --trust-root R [--out FILE [--force]]`: adds one
// reviewer signature, in place or into a new file. A key that is not a reviewer of the
// bundle's party in R (a root key, a node key, another party's reviewer) signs nothing: exit 1,
// and the reason says what the key is; exit 1 too when R is not a trust root a node would
// accept (unsigned, expired), 2 when it is malformed.
int rules_approve(const std::string& file, const KeyOptions& key, const std::string& trust_root,
                  const std::string& out, bool force = false);
// `cellgate rules verify BUNDLE --trust-root R`: which signatures count, whether the threshold
// is met, the node's time checks at this moment (approval::check_bundle_times: trust root and
// bundle not expired, not created in the future beyond the tolerated skew), whether the policy
// loads. Exit 0 approved, 1 not.
int rules_verify(const std::string& file, const std::string& trust_root);
// `cellgate rules diff OLD NEW` (bundles or policy files): rule-level differences. Exit 0 none,
// 1 some.
int rules_diff(const std::string& old_file, const std::string& new_file);
// `cellgate rules impact OLD NEW --items DIR [--json]`: every item × destination whose
// decision changes, with both explanations (as text, or one JSON object per change and a
// summary object last). Exit 0 none changed, 1 some.
int rules_impact(const std::string& old_file, const std::string& new_file,
                 const std::string& items_dir, bool json = false);
// `cellgate policy explain --policy P --item I [--destination D] [--json]`.
int policy_explain(const std::string& policy_file, const std::string& item_file,
                   const std::string& destination, bool json);

}  // namespace cg::cli
