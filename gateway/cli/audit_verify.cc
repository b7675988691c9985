#include <cstdio>

#include "gateway/audit/audit.h"
#include "gateway/cli/cli.h"
#include "gateway/common/hex.h"
#include "gateway/common/text.h"

namespace cg::cli {

int audit_verify(const std::string& store_dir, bool json) {
  auto env = store::Env::open({.path = store_dir, .read_only = true});
  if (!env.ok()) {
    std::fprintf(stderr, "audit verify: %s\n", env.status().to_string().c_str());
    return exit_io;
  }
  auto report = audit::verify(**env);
  if (!report.ok()) {
    std::fprintf(stderr, "audit verify: %s\n", report.status().to_string().c_str());
    return exit_io;
  }
  const bool ok = !report->broken_at.has_value();
  if (json) {
    std::printf("{\"ok\":%s,\"records\":%llu,\"head\":\"%s\"", ok ? "true" : "false",
                static_cast<unsigned long long>(report->records), to_hex(report->head).c_str());
    if (!ok) {
      std::printf(",\"broken_at\":%llu,\"problem\":\"%s\"",
                  static_cast<unsigned long long>(*report->broken_at),
                  json_escape(report->problem).c_str());
    }
    std::printf("}\n");
  } else if (ok) {
    std::printf("audit log ok: %llu records, head %s\n",
                static_cast<unsigned long long>(report->records), to_hex(report->head).c_str());
  } else {
    std::printf("audit log BROKEN at record %llu: %s\n(%llu records before it verified)\n",
                static_cast<unsigned long long>(*report->broken_at), report->problem.c_str(),
                static_cast<unsigned long long>(report->records));
  }
  return ok ? exit_ok : exit_failed;
}

}  // namespace cg::cli
