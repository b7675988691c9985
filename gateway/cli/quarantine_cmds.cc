// `cellgate quarantine list|show|release|reject`: what a reviewer does with the items a gateway
// holds. They open the gateway's store (LMDB allows a second process next to the running
// node). A release is signed here with the reviewer's key and left in the store; the running
// gateway verifies it (a reviewer of its party, over this hold, item and destination), seals
// and sends the held bytes, and records it in its audit log.
#include <chrono>
#include <cstdio>

#include "crypto/keys.h"
#include "gateway/audit/audit.h"
#include "gateway/cli/cli.h"
#include "gateway/common/hex.h"
#include "gateway/common/text.h"
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
  std::printf(
      "hold %llu, held %s for destination %s under rules v%llu\n\nwhy:\n%s\n\nitem:\n%s\n",
      static_cast<unsigned long long>(hold), wire::format_rfc3339((*h)->held_at).c_str(),
      (*h)->destination.c_str(), static_cast<unsigned long long>((*h)->rules_version),
      (*h)->explanation.c_str(),
      item.ok() ? wire::item_to_json(item->root()).c_str() : item.status().reason().c_str());
  return exit_ok;
}

int quarantine_reject(const std::string& store_dir, std::uint64_t hold, const std::string& node,
                      const std::string& reason) {
  auto env = store::Env::open({.path = store_dir});
  if (!env.ok()) return fail("quarantine reject", env.status());
  auto q = quarantine::Quarantine::open(**env);
  auto log = audit::AuditLog::open(**env, node);
  if (!q.ok() || !log.ok()) return fail("quarantine reject", q.ok() ? log.status() : q.status());
  auto txn = (*env)->begin_write();
  if (!txn.ok()) return fail("quarantine reject", txn.status());
  auto h = q->reject(*txn, hold);
  if (!h.ok()) return fail("quarantine reject", h.status());
  auto item = wire::decode_canonical_item(h->item);
  audit::Event ev;
  ev.time_ns = std::chrono::duration_cast<std::chrono::nanoseconds>(
                   std::chrono::system_clock::now().time_since_epoch())
                   .count();
  ev.event = schema::AuditEvent::QUARANTINE_REJECTED;
  if (item.ok()) ev.item_id = {item->root().getId().begin(), item->root().getId().size()};
  ev.origin = node;
  ev.destination = h->destination;
  ev.rules_version = h->rules_version;
  ev.reason = "rejected by reviewer";
  ev.detail = reason;
  if (auto s = log->append(*txn, ev); !s.ok()) return fail("quarantine reject", s.status());
  if (auto s = txn->commit(); !s.ok()) return fail("quarantine reject", s);
  std::printf("hold %llu rejected: it will not be sent; recorded in the audit log\n",
              static_cast<unsigned long long>(hold));
  return exit_ok;
}

int quarantine_release(const std::string& store_dir, std::uint64_t hold, const KeyOptions& key) {
  auto signer = load_signer(key);
  if (!signer.ok()) return fail("quarantine release", signer.status());
  auto suite = crypto::suite((*signer)->suite());
  if (!suite.ok()) return fail("quarantine release", suite.status());
  auto env = store::Env::open({.path = store_dir});
  if (!env.ok()) return fail("quarantine release", env.status());
  auto q = quarantine::Quarantine::open(**env);
  if (!q.ok()) return fail("quarantine release", q.status());
  auto h = q->get(hold);
  if (!h.ok()) return fail("quarantine release", h.status());
  if (!*h) return fail("quarantine release", rejected("no hold " + std::to_string(hold)));
  const approval::SuiteVerifier verifier(**suite);
  const auto statement = quarantine::Quarantine::release_statement(**h, verifier);
  quarantine::Quarantine::ReleaseRequest r;
  r.hold = hold;
  r.key_id = crypto::key_id((*suite)->id(), (*signer)->public_key());
  r.signature.resize((*suite)->signature_bytes());
  if (auto s = (*signer)->sign(statement, r.signature); !s.ok())
    return fail("quarantine release", s);
  auto txn = (*env)->begin_write();
  if (!txn.ok()) return fail("quarantine release", txn.status());
  if (auto s = q->request_release(*txn, r); !s.ok()) return fail("quarantine release", s);
  if (auto s = txn->commit(); !s.ok()) return fail("quarantine release", s);
  std::printf(
      "hold %llu: release signed by key %s and handed to the gateway, which verifies "
      "it and sends the item (see its audit log)\n",
      static_cast<unsigned long long>(hold), to_hex(r.key_id).c_str());
  return exit_ok;
}

}  // namespace cg::cli
