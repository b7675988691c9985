#include <cstdio>

#include "crypto/merkle.h"
#include "crypto/suite.h"
#include "gateway/audit/audit.h"
#include "gateway/cli/cli.h"
#include "gateway/common/hex.h"
#include "gateway/common/text.h"
#include "gateway/translog/translog.h"

namespace cg::cli {
namespace {

// The relay's transparency log in a store, when the store has one (nullopt otherwise).
Result<std::optional<translog::Log>> relay_log(store::Env& env, crypto::SuiteId suite_id) {
  CG_ASSIGN_OR_RETURN(const crypto::Suite* suite, crypto::suite(suite_id));
  auto log = translog::Log::open(env, "relay", crypto::hasher_of(*suite));
  if (!log.ok()) return std::optional<translog::Log>();  // a read-only store without the tables
  CG_ASSIGN_OR_RETURN(const auto size, log->size());
  if (size == 0) return std::optional<translog::Log>();
  return std::optional<translog::Log>(std::move(*log));
}

// Recomputes the log's root from every leaf hash and compares it with the root assembled from
// the stored subtree hashes: a changed, dropped or inserted leaf or node shows.
Status check_log(const translog::Log& log, std::uint64_t* size_out, crypto::Hash* root_out) {
  CG_ASSIGN_OR_RETURN(const auto size, log.size());
  std::vector<crypto::Hash> leaves;
  leaves.reserve(size);
  for (std::uint64_t i = 0; i < size; ++i) {
    CG_ASSIGN_OR_RETURN(auto leaf, log.leaf(i));
    leaves.push_back(std::move(leaf));
  }
  CG_ASSIGN_OR_RETURN(const auto stored, log.root(size));
  const auto recomputed = crypto::root_of(log.hasher(), leaves);
  if (stored != recomputed) {
    return rejected("transparency log: the root from the stored subtrees (" + to_hex(stored) +
                    ") is not the root of its leaves (" + to_hex(recomputed) + ")");
  }
  *size_out = size;
  *root_out = stored;
  return {};
}

}  // namespace

int audit_prove(const std::string& store_dir, std::uint64_t index, std::uint64_t size,
                crypto::SuiteId suite) {
  auto env = store::Env::open({.path = store_dir, .read_only = true});
  if (!env.ok()) {
    std::fprintf(stderr, "audit prove: %s\n", env.status().to_string().c_str());
    return exit_io;
  }
  auto log = relay_log(**env, suite);
  if (!log.ok() || !*log) {
    std::fprintf(stderr, "audit prove: %s has no transparency log (is it a relay's store?)\n",
                 store_dir.c_str());
    return exit_failed;
  }
  const auto& l = **log;
  const std::uint64_t current = *l.size();
  if (size == 0) size = current;
  if (index >= size || size > current) {
    std::fprintf(stderr, "audit prove: index %llu is not in a tree of %llu (the log holds %llu)\n",
                 static_cast<unsigned long long>(index), static_cast<unsigned long long>(size),
                 static_cast<unsigned long long>(current));
    return exit_failed;
  }
  auto leaf = l.leaf(index);
  auto root = l.root(size);
  auto path = l.inclusion_proof(index, size);
  if (!leaf.ok() || !root.ok() || !path.ok()) {
    std::fprintf(stderr, "audit prove: cannot read the log\n");
    return exit_io;
  }
  const bool ok = crypto::verify_inclusion(l.hasher(), *leaf, index, size, *path, *root);
  std::printf("{\"index\":%llu,\"tree_size\":%llu,\"leaf_hash\":\"%s\",\"root\":\"%s\",\"path\":[",
              static_cast<unsigned long long>(index), static_cast<unsigned long long>(size),
              to_hex(*leaf).c_str(), to_hex(*root).c_str());
  for (std::size_t i = 0; i < path->size(); ++i)
    std::printf("%s\"%s\"", i ? "," : "", to_hex((*path)[i]).c_str());
  std::printf("],\"verified\":%s}\n", ok ? "true" : "false");
  return ok ? exit_ok : exit_failed;
}

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
  bool ok = !report->broken_at.has_value();
  // A relay's store also holds the transparency log: its stored tree must be the tree of its
  // leaves. (The suite is the deployment's; a cnsa relay is checked with --suite cnsa.)
  std::uint64_t log_size = 0;
  crypto::Hash log_root;
  std::string log_problem;
  auto log = relay_log(**env, crypto::SuiteId::modern);
  if (log.ok() && *log) {
    if (auto s = check_log(**log, &log_size, &log_root); !s.ok()) {
      ok = false;
      log_problem = s.reason();
    }
  }
  if (json) {
    std::printf("{\"ok\":%s,\"records\":%llu,\"head\":\"%s\"", ok ? "true" : "false",
                static_cast<unsigned long long>(report->records), to_hex(report->head).c_str());
    if (!ok) {
      std::printf(",\"broken_at\":%llu,\"problem\":\"%s\"",
                  static_cast<unsigned long long>(*report->broken_at),
                  json_escape(report->problem).c_str());
    }
    if (log_size > 0) {
      std::printf(",\"transparency_log\":{\"size\":%llu,\"root\":\"%s\"}",
                  static_cast<unsigned long long>(log_size), to_hex(log_root).c_str());
    }
    if (!log_problem.empty())
      std::printf(",\"transparency_log_problem\":\"%s\"", json_escape(log_problem).c_str());
    std::printf("}\n");
  } else if (!log_problem.empty()) {
    std::printf("%s\n", log_problem.c_str());
  } else if (ok) {
    if (log_size > 0) {
      std::printf("transparency log ok: %llu entries, root %s (recomputed from every leaf)\n",
                  static_cast<unsigned long long>(log_size), to_hex(log_root).c_str());
    }
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
