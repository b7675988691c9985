// `cellgate quarantine list|show|reject`: what a reviewer does with the items a gateway holds.
// They open the gateway's store (LMDB allows a second process next to the running node).
// Releasing a hold needs the gateway to seal and send it; that command comes with the
// gateway's release path (issue 7) and is not offered until then, so nothing is lost.
#include <chrono>
#include <cstdio>

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

}  // namespace cg::cli
