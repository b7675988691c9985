// `cellgate quarantine list|show|release|reject`: what a reviewer does with the items a gateway
// holds. They open the gateway's store (LMDB allows a second process next to the running
// node). A release or reject is signed here with the reviewer's key, checked here with the
// gateway's own check (Quarantine::authorize, under the trust root and party of the gateway's
// config) and left in the store; the running gateway verifies it again, applies it (seals and
// sends the held bytes, or drops the hold), audits it with the reviewer's name, and records a
// verdict that the command waits for.
#include <chrono>
#include <cstdio>
#include <thread>

#include "crypto/keys.h"
#include "gateway/audit/audit.h"
#include "gateway/cli/cli.h"
#include "gateway/common/hex.h"
#include "gateway/common/limits.h"
#include "gateway/common/text.h"
#include "gateway/config/config.h"
#include "gateway/node/trust_pin.h"
#include "gateway/quarantine/quarantine.h"

namespace cg::cli {
namespace {

int fail(const char* what, const Status& s) {
  std::fprintf(stderr, "%s: %s\n", what, s.reason().c_str());
  return s.code() == Code::io ? exit_io : exit_failed;
}

std::string first_line(const std::string& s) { return s.substr(0, s.find('\n')); }

}  // namespace

int quarantine_list(const std::string& store_dir, bool json) {
  auto env = store::Env::open({.path = store_dir, .read_only = true});
  if (!env.ok()) return fail("quarantine list", env.status());
  auto q = quarantine::Quarantine::open(**env);
  if (!q.ok()) return fail("quarantine list", q.status());
  std::uint64_t after = 0, shown = 0;
  for (;;) {
    auto page = q->list(after, 256);
    if (!page.ok()) return fail("quarantine list", page.status());
    if (page->empty()) break;
    for (const auto& h : *page) {
      auto item = wire::decode_canonical_item(h.item);
      const std::string id =
          item.ok() ? to_hex({item->root().getId().begin(), item->root().getId().size()}) : "?";
      if (json) {
        std::printf(
            "{\"hold\":%llu,\"held_at\":\"%s\",\"destination\":\"%s\",\"rules_version\":%llu,"
            "\"item\":\"%s\","
            "\"why\":\"%s\"}\n",
            static_cast<unsigned long long>(h.id), wire::format_rfc3339(h.held_at).c_str(),
            json_escape(h.destination).c_str(), static_cast<unsigned long long>(h.rules_version),
            id.c_str(), json_escape(h.explanation).c_str());
      } else {
        std::printf("%6llu  %s  to %-6s  rules v%llu  item %s  %s\n",
                    static_cast<unsigned long long>(h.id), wire::format_rfc3339(h.held_at).c_str(),
                    h.destination.c_str(), static_cast<unsigned long long>(h.rules_version),
                    id.c_str(), first_line(h.explanation).c_str());
      }
      after = h.id;
      ++shown;
    }
  }
  if (!json) std::printf("%llu held\n", static_cast<unsigned long long>(shown));
  return exit_ok;
}

int quarantine_show(const std::string& store_dir, std::uint64_t hold) {
  auto env = store::Env::open({.path = store_dir, .read_only = true});
  if (!env.ok()) return fail("quarantine show", env.status());
  auto q = quarantine::Quarantine::open(**env);
  if (!q.ok()) return fail("quarantine show", q.status());
  auto h = q->get(hold);
  if (!h.ok()) return fail("quarantine show", h.status());
  if (!*h) return fail("quarantine show", rejected("no hold " + std::to_string(hold)));
  auto item = wire::decode_canonical_item((*h)->item);
  // Partial approvals, named by the trust root the gateway pinned (it verifies them again, under
  // the root it runs with, when it decides).
  auto keys = q->approval_keys(hold);
  if (!keys.ok()) return fail("quarantine show", keys.status());
  auto root = node::pinned_root(**env);
  std::string approvals;
  std::size_t threshold = 0;
  for (const auto& k : *keys) {
    std::string name = "key " + to_hex(k) + " (not a reviewer in the pinned trust root)";
    if (root.ok() && *root) {
      for (const auto p : (**root).body().getParties()) {
        for (const auto r : p.getReviewers()) {
          if (std::equal(r.getKeyId().begin(), r.getKeyId().end(), k.begin(), k.end())) {
            name = std::string(wire::view(r.getName()));
            threshold = p.getReleaseThreshold();
          }
        }
      }
    }
    approvals += (approvals.empty() ? "" : ", ") + name;
  }
  if (keys->empty()) {
    std::printf("approvals: none yet\n");
  } else if (threshold > 0) {
    std::printf("approvals: %zu of %zu (%s)\n", keys->size(), threshold, approvals.c_str());
  } else {
    std::printf("approvals: %zu (%s)\n", keys->size(), approvals.c_str());
  }
  std::printf(
      "hold %llu, held %s for destination %s under rules v%llu\n\nwhy:\n%s\n\nitem:\n%s\n",
      static_cast<unsigned long long>(hold), wire::format_rfc3339((*h)->held_at).c_str(),
      (*h)->destination.c_str(), static_cast<unsigned long long>((*h)->rules_version),
      (*h)->explanation.c_str(),
      item.ok() ? wire::item_to_json(item->root()).c_str() : item.status().reason().c_str());
  return exit_ok;
}

namespace {

int decision_fail(quarantine::Decision d, const Status& s) {
  std::fprintf(stderr, "quarantine %s: %s\n", std::string(quarantine::to_string(d)).c_str(),
               s.reason().c_str());
  switch (s.code()) {
    case Code::io:
      return exit_io;
    case Code::malformed:
      return exit_usage;
    default:
      return exit_failed;
  }
}

// The gateway's trust root, accepted as the gateway accepts it at start (TrustRoot::bootstrap
// under its signing key's suite, which the trust root lists), and that suite's verifier.
struct GatewayTrust {
  std::optional<approval::TrustRoot> root;
  const crypto::Suite* suite = nullptr;
};
Result<GatewayTrust> gateway_trust(const config::NodeConfig& gw) {
  if (gw.role != config::Role::gateway || !gw.keys) {
    return malformed(gw.source_file + ": not a gateway config with [keys]");
  }
  CG_ASSIGN_OR_RETURN(auto bytes,
                      crypto::read_file(gw.keys->trust_root, limits::trust_root_bytes_max));
  CG_ASSIGN_OR_RETURN(auto m,
                      wire::decode_message<schema::TrustRoot>(bytes, wire::trust_root_limits));
  GatewayTrust t;
  for (const auto n : m.root().getBody().getNodes()) {
    if (wire::view(n.getId()) != gw.id) continue;
    auto s = crypto::suite(static_cast<crypto::SuiteId>(n.getSigningKey().getSuite()));
    if (s.ok()) t.suite = *s;
  }
  if (t.suite == nullptr) {
    return malformed(gw.keys->trust_root + ": gateway '" + gw.id + "' is not in the trust root");
  }
  const approval::SuiteVerifier verifier(*t.suite);
  const std::int64_t now = std::chrono::duration_cast<std::chrono::nanoseconds>(
                               std::chrono::system_clock::now().time_since_epoch())
                               .count();
  // The root the gateway runs under: its file, judged against the root pinned in its store.
  CG_ASSIGN_OR_RETURN(auto env, store::Env::open({.path = gw.store, .read_only = true}));
  CG_ASSIGN_OR_RETURN(auto judged, node::judge_trust_root(*env, bytes, verifier, now));
  t.root.emplace(std::move(judged.root));
  return t;
}

int decide(const config::NodeConfig& gw, quarantine::Decision d,
           const QuarantineDecisionOptions& o) {
  auto signer = load_signer(o.key);
  if (!signer.ok()) return decision_fail(d, signer.status());
  auto trust = gateway_trust(gw);
  if (!trust.ok()) return decision_fail(d, trust.status());
  const approval::SuiteVerifier verifier(*trust->suite);
  auto env = store::Env::open({.path = gw.store});
  if (!env.ok()) return decision_fail(d, env.status());
  auto q = quarantine::Quarantine::open(**env);
  if (!q.ok()) return decision_fail(d, q.status());
  auto h = q->get(o.hold);
  if (!h.ok()) return decision_fail(d, h.status());
  if (!*h) return decision_fail(d, rejected("no hold " + std::to_string(o.hold)));
  const std::string reason = d == quarantine::Decision::reject ? o.reason : std::string();
  quarantine::Quarantine::Request r;
  r.hold = o.hold;
  r.decision = d;
  r.reason = reason;
  auto key_suite = crypto::suite((*signer)->suite());
  if (!key_suite.ok()) return decision_fail(d, key_suite.status());
  r.key_id = crypto::key_id((*signer)->suite(), (*signer)->public_key());
  r.signature.resize((*key_suite)->signature_bytes());
  if (d == quarantine::Decision::release) {  // a reviewer counts once: said now, not later
    auto already = q->approval_keys(o.hold);
    if (!already.ok()) return decision_fail(d, already.status());
    const auto mine = crypto::key_id((*signer)->suite(), (*signer)->public_key());
    for (const auto& k : *already) {
      if (k == mine) {
        return decision_fail(d, rejected("hold " + std::to_string(o.hold) +
                                         ": this key approved it already; a reviewer counts "
                                         "once: nothing handed over"));
      }
    }
  }
  const auto statement = quarantine::Quarantine::statement(d, **h, reason, verifier);
  if (auto s = (*signer)->sign(statement, r.signature); !s.ok()) return decision_fail(d, s);
  // What the gateway will check, checked here with its own code: a refusal is said now.
  auto reviewer = quarantine::Quarantine::authorize(d, **h, reason, *trust->root, gw.party,
                                                    r.key_id, r.signature, verifier);
  if (!reviewer.ok()) {
    return decision_fail(
        d, Status(reviewer.status().code() == Code::malformed ? Code::malformed : Code::rejected,
                  reviewer.status().reason() + "; the gateway would refuse it: "
                                               "nothing handed over"));
  }
  {
    auto txn = (*env)->begin_write();
    if (!txn.ok()) return decision_fail(d, txn.status());
    if (auto s = q->request(*txn, r); !s.ok()) return decision_fail(d, s);
    if (auto s = txn->commit(); !s.ok()) return decision_fail(d, s);
  }
  const char* what = d == quarantine::Decision::reject ? "reject" : "release";
  std::printf("hold %llu: %s signed by reviewer %s (key %s), handed to gateway %s\n",
              static_cast<unsigned long long>(o.hold), what, reviewer->c_str(),
              to_hex(r.key_id).c_str(), gw.id.c_str());
  if (o.wait_s <= 0) {
    std::printf("not waiting for its verdict (--wait 0); see the gateway's audit log\n");
    return exit_ok;
  }
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(o.wait_s);
  for (;;) {
    auto v = q->verdict(o.hold, d, r.key_id);
    if (!v.ok()) return decision_fail(d, v.status());
    if (*v) {
      if ((*v)->outcome != quarantine::Quarantine::Outcome::refused) {
        std::printf("gateway %s: %s\n", gw.id.c_str(), (*v)->detail.c_str());
        return exit_ok;
      }
      std::fprintf(stderr, "quarantine %s: gateway %s refused it: %s\n", what, gw.id.c_str(),
                   (*v)->detail.c_str());
      return exit_failed;
    }
    if (std::chrono::steady_clock::now() >= deadline) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  std::fprintf(stderr,
               "quarantine %s: gateway %s gave no verdict within %d s (is it running, with a "
               "usable rules bundle?); the signed request stays in its store and is decided when "
               "it runs: see `cellgate quarantine show` and its audit log\n",
               what, gw.id.c_str(), o.wait_s);
  return exit_no_verdict;
}

int decide_file(const std::string& config_file, quarantine::Decision d,
                const QuarantineDecisionOptions& o) {
  auto c = config::load(config_file);
  if (!c.ok()) return decision_fail(d, c.status());
  return decide(*c, d, o);
}

}  // namespace

int quarantine_release(const config::NodeConfig& gateway, const QuarantineDecisionOptions& o) {
  return decide(gateway, quarantine::Decision::release, o);
}
int quarantine_reject(const config::NodeConfig& gateway, const QuarantineDecisionOptions& o) {
  return decide(gateway, quarantine::Decision::reject, o);
}
int quarantine_release(const std::string& config_file, const QuarantineDecisionOptions& o) {
  return decide_file(config_file, quarantine::Decision::release, o);
}
int quarantine_reject(const std::string& config_file, const QuarantineDecisionOptions& o) {
  return decide_file(config_file, quarantine::Decision::reject, o);
}

}  // namespace cg::cli
