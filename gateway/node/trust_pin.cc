// The trust root pinned in a node's store (trust_pin.h).
#include "gateway/node/trust_pin.h"

#include <algorithm>
#include <cstdio>
#include <optional>
#include <vector>

#include "crypto/keys.h"
#include "gateway/common/limits.h"
#include "gateway/node/store_keys.h"
#include "gateway/wire/wire.h"

namespace cg::node {
namespace {

constexpr std::string_view table_name = "trust";
constexpr std::string_view root_key = "root";

using Bytes = std::span<const std::uint8_t>;

// The pinned root's bytes, if any (a read-only store that never pinned one has no table).
Result<std::optional<std::vector<std::uint8_t>>> read_pinned(store::Env& env) {
  using Pinned = std::optional<std::vector<std::uint8_t>>;
  CG_ASSIGN_OR_RETURN(const auto table, env.find_table(table_name));
  if (!table) return Pinned{};
  CG_ASSIGN_OR_RETURN(auto txn, env.begin_read());
  CG_ASSIGN_OR_RETURN(auto v, txn.get(*table, text_key_of(root_key)));
  if (!v) return Pinned{};
  return Pinned{std::vector<std::uint8_t>(v->begin(), v->end())};
}

Status write_pinned(store::Env& env, Bytes bytes) {
  CG_ASSIGN_OR_RETURN(auto table, env.table(table_name));
  CG_ASSIGN_OR_RETURN(auto txn, env.begin_write());
  CG_RETURN_IF_ERROR(txn.put(table, text_key_of(root_key), bytes));
  return txn.commit();
}

Result<PinnedRoot> judge(const std::optional<std::vector<std::uint8_t>>& pinned, Bytes file,
                         const approval::Verifier& verifier, std::int64_t now_ns) {
  if (!pinned) {
    CG_ASSIGN_OR_RETURN(auto root, approval::TrustRoot::bootstrap(file, verifier, now_ns));
    return PinnedRoot{std::move(root), "pinned"};
  }
  auto current = approval::TrustRoot::parse(*pinned, verifier);
  if (!current.ok()) {
    return current.status().with_context("the trust root pinned in the store");
  }
  if (std::equal(file.begin(), file.end(), pinned->begin(), pinned->end())) {
    CG_ASSIGN_OR_RETURN(auto root, approval::TrustRoot::bootstrap(*pinned, verifier, now_ns));
    return PinnedRoot{std::move(root), "kept"};
  }
  CG_ASSIGN_OR_RETURN(auto proposed, approval::TrustRoot::parse(file, verifier));
  const std::uint64_t n = current->version(), v = proposed.version();
  const std::string pinned_is = "the store trusts trust root v" + std::to_string(n);
  if (v < n) {
    return rejected(pinned_is + "; the file is v" + std::to_string(v) + ": a rollback is refused");
  }
  if (v == n) {
    return rejected(pinned_is + " and the file is another root under the same version");
  }
  if (v > n + 1) {
    return rejected(pinned_is + "; the file is v" + std::to_string(v) +
                    ": each root must be installed in turn (v" + std::to_string(n + 1) +
                    " first), as every successor needs its predecessor's signatures");
  }
  auto next = current->rotate(file, verifier, now_ns);
  if (!next.ok()) {
    return next.status().with_context(pinned_is + "; successor v" + std::to_string(v) + " refused");
  }
  return PinnedRoot{std::move(*next), "rotated", n};
}

}  // namespace

Result<PinnedRoot> pin_trust_root(store::Env& env, Bytes file_bytes,
                                  const approval::Verifier& verifier, std::int64_t now_ns) {
  CG_ASSIGN_OR_RETURN(const auto pinned, read_pinned(env));
  CG_ASSIGN_OR_RETURN(auto judged, judge(pinned, file_bytes, verifier, now_ns));
  if (judged.outcome != std::string_view("kept")) {
    CG_RETURN_IF_ERROR(write_pinned(env, file_bytes));
  }
  return judged;
}

Result<PinnedRoot> judge_trust_root(store::Env& env, Bytes file_bytes,
                                    const approval::Verifier& verifier, std::int64_t now_ns) {
  CG_ASSIGN_OR_RETURN(const auto pinned, read_pinned(env));
  return judge(pinned, file_bytes, verifier, now_ns);
}

Result<PinnedRoot> load_trust_root(const config::NodeConfig& config,
                                   const approval::Verifier& verifier, std::int64_t now_ns) {
  const std::string where = config.source_file + ": keys.trust_root " + config.keys->trust_root;
  auto bytes = crypto::read_file(config.keys->trust_root, limits::trust_root_bytes_max);
  if (!bytes.ok()) return bytes.status().with_context(where);
  CG_ASSIGN_OR_RETURN(
      auto env, store::Env::open({.path = config.store, .map_bytes = config.store_bytes_max}));
  auto pinned = pin_trust_root(*env, *bytes, verifier, now_ns);
  if (!pinned.ok()) return pinned.status().with_context(where);
  if (pinned->outcome == std::string_view("rotated")) {
    std::fprintf(stderr, "[%s] trust root v%llu accepted as the successor of v%llu and pinned\n",
                 config.id.c_str(), static_cast<unsigned long long>(pinned->root.version()),
                 static_cast<unsigned long long>(pinned->previous_version));
  }
  return pinned;
}

namespace {
Status append(audit::AuditLog& log, store::Env& env, const audit::Event& ev) {
  CG_ASSIGN_OR_RETURN(auto txn, env.begin_write());
  CG_RETURN_IF_ERROR(log.append(txn, ev).status());
  return txn.commit();
}
}  // namespace

Status audit_pinned(audit::AuditLog& log, store::Env& env, std::string_view node,
                    std::int64_t now_ns, const PinnedRoot& pinned) {
  const std::string_view outcome = pinned.outcome;
  if (outcome == "kept") return {};
  const std::string v = "trust root v" + std::to_string(pinned.root.version());
  const std::string detail =
      outcome == "rotated"
          ? v + " accepted as the successor of v" + std::to_string(pinned.previous_version) +
                " (a threshold of its root keys and of the previous root's) and pinned"
          : v + " pinned at the node's first start on this store (its own root keys' threshold)";
  return append(log, env,
                {.time_ns = now_ns,
                 .event = schema::AuditEvent::TRUST_ROOT_LOADED,
                 .origin = node,
                 .reason = outcome,
                 .detail = detail});
}

Status audit_refused(audit::AuditLog& log, store::Env& env, std::string_view node,
                     std::int64_t now_ns, std::string_view why) {
  return append(log, env,
                {.time_ns = now_ns,
                 .event = schema::AuditEvent::TRUST_ROOT_REFUSED,
                 .origin = node,
                 .reason = "trust root refused",
                 .detail = why});
}

std::atomic<std::uint64_t>& trust_root_refusals() {
  static std::atomic<std::uint64_t> refusals{0};
  return refusals;
}

Result<std::uint64_t> pinned_version(store::Env& env, const approval::Verifier& verifier) {
  CG_ASSIGN_OR_RETURN(const auto pinned, read_pinned(env));
  if (!pinned) return std::uint64_t{0};
  CG_ASSIGN_OR_RETURN(auto root, approval::TrustRoot::parse(*pinned, verifier));
  return root.version();
}

Result<const crypto::Suite*> pinned_suite(store::Env& env) {
  CG_ASSIGN_OR_RETURN(const auto pinned, read_pinned(env));
  if (!pinned) return rejected("the store has no pinned trust root");
  CG_ASSIGN_OR_RETURN(auto m,
                      wire::decode_message<schema::TrustRoot>(*pinned, wire::trust_root_limits));
  const auto keys = m.root().getBody().getRootKeys();
  if (keys.size() == 0) return malformed("the pinned trust root has no root keys");
  return crypto::suite(static_cast<crypto::SuiteId>(keys[0].getSuite()));
}

Result<const crypto::Suite*> trust_root_file_suite(const std::string& path) {
  CG_ASSIGN_OR_RETURN(const auto bytes, crypto::read_file(path, limits::trust_root_bytes_max));
  CG_ASSIGN_OR_RETURN(auto m,
                      wire::decode_message<schema::TrustRoot>(bytes, wire::trust_root_limits));
  const auto keys = m.root().getBody().getRootKeys();
  if (keys.size() == 0) return malformed(path + ": the trust root has no root keys");
  return crypto::suite(static_cast<crypto::SuiteId>(keys[0].getSuite()));
}

Result<std::optional<approval::TrustRoot>> pinned_root(store::Env& env) {
  CG_ASSIGN_OR_RETURN(const auto pinned, read_pinned(env));
  if (!pinned) return std::optional<approval::TrustRoot>{};
  CG_ASSIGN_OR_RETURN(const crypto::Suite* suite, pinned_suite(env));
  const approval::SuiteVerifier verifier(*suite);
  CG_ASSIGN_OR_RETURN(auto root, approval::TrustRoot::parse(*pinned, verifier));
  return std::optional<approval::TrustRoot>(std::move(root));
}

}  // namespace cg::node
