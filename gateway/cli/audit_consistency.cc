// `cellgate audit heads` and `cellgate audit check-consistency`: a receiver's view of the
// relay's history, exported and checked — against itself (every published head's signature and
// consistency links), against the evidence the running receiver recorded, and against the
// other party's heads (same serial, same tree, or the relay showed the parties different
// histories).
#include <chrono>
#include <cstdio>

#include "crypto/keys.h"
#include "gateway/approval/approval.h"
#include "gateway/cli/cli.h"
#include "gateway/common/hex.h"
#include "gateway/common/limits.h"
#include "gateway/common/text.h"
#include "gateway/envelope/envelope.h"
#include "gateway/recovery/recovery.h"
#include "gateway/store/store.h"

namespace cg::cli {
namespace {

struct Stored {
  std::vector<std::vector<std::uint8_t>> heads;  // published head records, by (relay, serial)
  std::vector<std::string> evidence;             // as the running receiver found it
};

Result<Stored> read_store(const std::string& store_dir) {
  CG_ASSIGN_OR_RETURN(auto env, store::Env::open({.path = store_dir, .read_only = true}));
  Stored out;
  auto heads = env->table("heads");
  auto evidence = env->table("equivocation");
  if (!heads.ok() || !evidence.ok())
    return rejected(store_dir + " holds no published heads (is it a receiver's store?)");
  CG_ASSIGN_OR_RETURN(auto txn, env->begin_read());
  {
    CG_ASSIGN_OR_RETURN(auto c, txn.cursor(*heads));
    for (;;) {
      CG_ASSIGN_OR_RETURN(auto e, c.next());
      if (!e) break;
      out.heads.emplace_back(e->second.begin(), e->second.end());
    }
  }
  CG_ASSIGN_OR_RETURN(auto c, txn.cursor(*evidence));
  for (;;) {
    CG_ASSIGN_OR_RETURN(auto e, c.next());
    if (!e) break;
    out.evidence.emplace_back(e->second.begin(), e->second.end());
  }
  return out;
}

Result<approval::TrustRoot> load_root(const std::string& file, const crypto::Suite** suite) {
  CG_ASSIGN_OR_RETURN(auto bytes, crypto::read_file(file, limits::trust_root_bytes_max));
  CG_ASSIGN_OR_RETURN(auto m, wire::decode_message<schema::TrustRoot>(bytes, wire::trust_root_limits));
  *suite = &crypto::modern_suite();
  if (m.root().getBody().getRootKeys().size() > 0) {
    auto s = crypto::suite(static_cast<crypto::SuiteId>(m.root().getBody().getRootKeys()[0].getSuite()));
    if (s.ok()) *suite = *s;
  }
  const approval::SuiteVerifier verifier(**suite);
  const std::int64_t now = std::chrono::duration_cast<std::chrono::nanoseconds>(
                               std::chrono::system_clock::now().time_since_epoch())
                               .count();
  return approval::TrustRoot::bootstrap(bytes, verifier, now);
}

int fail(const char* what, const Status& s) {
  std::fprintf(stderr, "audit %s: %s\n", what, s.reason().c_str());
  return s.code() == Code::io ? exit_io : s.code() == Code::malformed ? exit_usage : exit_failed;
}

}  // namespace

int audit_heads(const std::string& store_dir, const std::string& out_file, bool force) {
  auto stored = read_store(store_dir);
  if (!stored.ok()) return fail("heads", stored.status());
  const auto file = recovery::export_heads(stored->heads);
  if (auto s = write_output(out_file, file, 0644, force); !s.ok()) return fail("heads", s);
  std::printf("%zu published tree head(s) written to %s\n",
              std::min(stored->heads.size(), recovery::export_heads_max), out_file.c_str());
  return exit_ok;
}

int audit_check_consistency(const std::string& store_dir, const std::string& trust_root_file,
                            const std::string& heads_file, bool json) {
  const crypto::Suite* suite = nullptr;
  auto root = load_root(trust_root_file, &suite);
  if (!root.ok()) return fail("check-consistency", root.status());
  auto stored = read_store(store_dir);
  if (!stored.ok()) return fail("check-consistency", stored.status());
  // Our own chain again, from what the receiver kept: every signature and link re-checked.
  recovery::HeadChain chain(crypto::hasher_of(*suite));
  std::vector<recovery::Evidence> found;
  std::uint64_t refused = 0, first = 0, last = 0;
  for (const auto& record : stored->heads) {
    auto v = envelope::verify_published_head(record, *root, *suite);
    if (!v.ok()) {
      ++refused;
      continue;
    }
    if (first == 0 || v->head.serial < first) first = v->head.serial;
    last = std::max(last, v->head.serial);
    auto e = chain.add_published(*v, 0);
    found.insert(found.end(), e.begin(), e.end());
  }
  // The other party's heads, when given: each under our serial must be our head.
  std::uint64_t theirs = 0, theirs_refused = 0;
  std::vector<std::uint8_t> other_file;
  if (!heads_file.empty()) {
    auto bytes = crypto::read_file(heads_file, recovery::export_heads_max *
                                                   (recovery::export_record_bytes_max + 4) + 12);
    if (!bytes.ok()) return fail("check-consistency", bytes.status());
    other_file = std::move(*bytes);
    auto records = recovery::parse_heads_export(other_file);
    if (!records.ok()) return fail("check-consistency", records.status());
    for (const auto& record : *records) {
      auto v = envelope::verify_published_head(record, *root, *suite);
      if (!v.ok()) {
        ++theirs_refused;
        continue;
      }
      ++theirs;
      auto e = chain.compare_quoted({v->relay, v->key_id, v->head}, heads_file, 0);
      found.insert(found.end(), e.begin(), e.end());
    }
  }
  const auto& c = chain.counters();
  const bool equivocation = !found.empty() || !stored->evidence.empty();
  if (json) {
    std::printf("{\"consistent\":%s,\"heads\":%llu,\"first_serial\":%llu,\"last_serial\":%llu,"
                "\"linked\":%llu,\"unlinked\":%llu,\"refused\":%llu",
                equivocation ? "false" : "true", static_cast<unsigned long long>(c.heads),
                static_cast<unsigned long long>(first), static_cast<unsigned long long>(last),
                static_cast<unsigned long long>(c.linked),
                static_cast<unsigned long long>(c.unlinked),
                static_cast<unsigned long long>(refused));
    if (!heads_file.empty()) {
      std::printf(",\"other\":{\"heads\":%llu,\"refused\":%llu,\"matched\":%llu,"
                  "\"not_held\":%llu}",
                  static_cast<unsigned long long>(theirs),
                  static_cast<unsigned long long>(theirs_refused),
                  static_cast<unsigned long long>(c.matched),
                  static_cast<unsigned long long>(c.unverifiable + chain.pending()));
    }
    std::printf(",\"evidence\":[");
    bool comma = false;
    for (const auto& e : found) {
      std::printf("%s\"%s: %s\"", comma ? "," : "", std::string(recovery::evidence_name(e.kind)).c_str(),
                  json_escape(e.text).c_str());
      comma = true;
    }
    for (const auto& e : stored->evidence) {
      std::printf("%s\"recorded: %s\"", comma ? "," : "", json_escape(e).c_str());
      comma = true;
    }
    std::printf("]}\n");
  } else {
    std::printf("%llu published tree head(s) held, serials %llu..%llu: %llu linked by a "
                "consistency proof, %llu without one (their predecessors were lost), %llu refused\n",
                static_cast<unsigned long long>(c.heads), static_cast<unsigned long long>(first),
                static_cast<unsigned long long>(last), static_cast<unsigned long long>(c.linked),
                static_cast<unsigned long long>(c.unlinked),
                static_cast<unsigned long long>(refused));
    if (!heads_file.empty()) {
      std::printf("%s: %llu head(s) (%llu refused): %llu equal to ours under the same serial, "
                  "%llu under serials we do not hold\n",
                  heads_file.c_str(), static_cast<unsigned long long>(theirs),
                  static_cast<unsigned long long>(theirs_refused),
                  static_cast<unsigned long long>(c.matched),
                  static_cast<unsigned long long>(c.unverifiable + chain.pending()));
    }
    for (const auto& e : found)
      std::printf("EQUIVOCATION (%s): %s\n", std::string(recovery::evidence_name(e.kind)).c_str(),
                  e.text.c_str());
    for (const auto& e : stored->evidence) std::printf("EQUIVOCATION recorded by the receiver: %s\n", e.c_str());
    std::printf(equivocation ? "the relay showed different histories: see above\n"
                             : "consistent: one append-only history\n");
  }
  return equivocation ? exit_failed : exit_ok;
}

}  // namespace cg::cli
