// `cellgate run --config node.toml`: one node role per process: gateway, guard, relay or
// receiver.
//
// The process waits for signals (SIGHUP re-reads the gateway's rules bundle, SIGINT/SIGTERM
// stop) and, once a second, looks at its trust-root file. A changed file is judged against the
// root pinned in the store (gateway/node/trust_pin.h): a refused one is said on stderr, once
// per change of the file, and the node goes on under the pinned root; an accepted successor
// stops the node and starts it again in this process, under the new root (the store lock is
// held throughout).
#include <signal.h>
#include <sys/stat.h>

#include <cstdio>
#include <ctime>
#include <functional>
#include <memory>

#include "crypto/keys.h"
#include "gateway/audit/audit.h"
#include "gateway/cli/cli.h"
#include "gateway/common/clock.h"
#include "gateway/common/limits.h"
#include "gateway/config/config.h"
#include "gateway/node/node_common.h"
#include "gateway/node/trust_pin.h"
#include "gateway/roles/gateway/gateway.h"
#include "gateway/roles/guard/guard_node.h"
#include "gateway/roles/receiver/receiver.h"
#include "gateway/roles/relay/relay.h"
#include "gateway/store/store.h"

namespace cg::cli {
namespace {

int exit_code_of(const Status& s) { return s.code() == Code::io ? exit_io : exit_failed; }

// One started role, whatever it is: how to stop it, what to say when it stops, and its answer
// to SIGHUP.
struct Running {
  std::function<void()> stop;
  std::function<void()> say_stopped;
  std::function<void()> on_hup = [] {};
};

Result<Running> start_role(const config::NodeConfig& config, const Clock& clock) {
  const char* id = config.id.c_str();
  if (config.role == config::Role::receiver) {
    CG_ASSIGN_OR_RETURN(std::shared_ptr<node::ReceiverNode> r,
                        node::ReceiverNode::start(config, clock));
    std::fprintf(stderr, "[%s] receiver running: consumers at %s\n", id,
                 r->deliver_endpoint().c_str());
    return Running{[r] { r->stop(); },
                   [r, id] {
                     const auto& c = r->counters();
                     std::fprintf(stderr,
                                  "[%s] stopped: %llu received, %llu stored for consumers, %llu "
                                  "refused, %llu duplicates\n",
                                  id, static_cast<unsigned long long>(c.received.load()),
                                  static_cast<unsigned long long>(c.stored.load()),
                                  static_cast<unsigned long long>(c.refused.load()),
                                  static_cast<unsigned long long>(c.duplicates.load()));
                   }};
  }
  if (config.role == config::Role::relay) {
    CG_ASSIGN_OR_RETURN(std::shared_ptr<node::RelayNode> r, node::RelayNode::start(config, clock));
    std::fprintf(stderr, "[%s] relay running\n", id);
    return Running{[r] { r->stop(); },
                   [r, id] {
                     const auto& c = r->counters();
                     std::fprintf(stderr,
                                  "[%s] stopped: %llu received, %llu relayed, refused %llu origin "
                                  "/ %llu replay / %llu oversight\n",
                                  id, static_cast<unsigned long long>(c.received.load()),
                                  static_cast<unsigned long long>(c.relayed.load()),
                                  static_cast<unsigned long long>(c.refused_origin.load()),
                                  static_cast<unsigned long long>(c.refused_replay.load()),
                                  static_cast<unsigned long long>(c.refused_oversight.load()));
                   }};
  }
  if (config.role == config::Role::guard) {
    CG_ASSIGN_OR_RETURN(std::shared_ptr<node::GuardNode> g, node::GuardNode::start(config, clock));
    std::fprintf(stderr, "[%s] release guard running: %s, signing for %s\n", id,
                 g->endpoint().c_str(), config.guard_service->gateway.c_str());
    return Running{[g] { g->stop(); },
                   [g, id] {
                     const auto& c = g->counters();
                     std::fprintf(stderr,
                                  "[%s] stopped: %llu signed, %llu refused, %llu answered again\n",
                                  id, static_cast<unsigned long long>(c.signed_envelopes.load()),
                                  static_cast<unsigned long long>(c.refused.load()),
                                  static_cast<unsigned long long>(c.repeated.load()));
                   }};
  }
  CG_ASSIGN_OR_RETURN(std::shared_ptr<node::GatewayNode> g,
                      node::GatewayNode::start(config, clock));
  std::fprintf(stderr, "[%s] gateway running: ingest %s, rules bundle v%llu\n", id,
               g->ingest_endpoint().c_str(), static_cast<unsigned long long>(g->rules_version()));
  return Running{[g] { g->stop(); },
                 [g, id] {
                   const auto& c = g->counters();
                   std::fprintf(stderr,
                                "[%s] stopped: %llu judged, %llu released, %llu blocked, %llu "
                                "quarantined, %llu sent\n",
                                id, static_cast<unsigned long long>(c.items_judged.load()),
                                static_cast<unsigned long long>(c.released.load()),
                                static_cast<unsigned long long>(c.blocked.load()),
                                static_cast<unsigned long long>(c.quarantined.load()),
                                static_cast<unsigned long long>(c.envelopes_sent.load()));
                 },
                 [g, id] {
                   auto v = g->reload_rules();
                   std::fprintf(stderr, "[%s] SIGHUP: %s\n", id,
                                v.ok() ? ("rules bundle v" + std::to_string(*v) + " in use").c_str()
                                       : v.status().reason().c_str());
                 }};
}

// The trust-root file as last seen (device, inode, size, modification time): a change of any
// of them is a new file to judge.
struct FileStamp {
  dev_t dev = 0;
  ino_t ino = 0;
  off_t size = -1;
  std::int64_t mtime_ns = 0;
  bool operator==(const FileStamp&) const = default;
};

FileStamp stamp_of(const std::string& path) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) return {};
  return {st.st_dev, st.st_ino, st.st_size,
          static_cast<std::int64_t>(st.st_mtim.tv_sec) * 1'000'000'000 + st.st_mtim.tv_nsec};
}

enum class Watch { unchanged, successor };

// Judges a changed trust-root file against the pinned root without changing the store: says
// why it is refused, or that the node will restart under it.
Watch judge_changed_root(const config::NodeConfig& config, const Clock& clock) {
  const char* id = config.id.c_str();
  const std::string& path = config.keys->trust_root;
  auto bytes = crypto::read_file(path, limits::trust_root_bytes_max);
  auto env = store::Env::open({.path = config.store, .map_bytes = config.store_bytes_max});
  if (!bytes.ok() || !env.ok()) {
    std::fprintf(stderr, "[%s] trust root file %s changed and cannot be read: %s\n", id,
                 path.c_str(), (!bytes.ok() ? bytes.status() : env.status()).reason().c_str());
    return Watch::unchanged;
  }
  // The node's own suite judges (the root's keys name theirs).
  const crypto::Suite* suite = nullptr;
  if (auto pinned = node::pinned_suite(**env); pinned.ok()) suite = *pinned;
  if (suite == nullptr) {
    std::fprintf(stderr, "[%s] trust root file %s changed; the store has no readable pinned root\n",
                 id, path.c_str());
    return Watch::unchanged;
  }
  const approval::SuiteVerifier verifier(*suite);
  auto judged = node::judge_trust_root(**env, *bytes, verifier, clock.now_ns());
  if (!judged.ok()) {
    node::trust_root_refusals().fetch_add(1);  // before the line: who reads it sees the count
    std::fprintf(stderr, "[%s] trust root file %s changed: REFUSED: %s\n", id, path.c_str(),
                 judged.status().reason().c_str());
    // Into the node's audit chain too (the same chain the running node appends to).
    auto log = audit::AuditLog::open(**env, config.id, *suite);
    const Status audited = log.ok() ? node::audit_refused(*log, **env, config.id, clock.now_ns(),
                                                          path + ": " + judged.status().reason())
                                    : log.status();
    if (!audited.ok()) {
      std::fprintf(stderr, "[%s] the refusal could not be audited: %s\n", id,
                   audited.reason().c_str());
    }
    return Watch::unchanged;
  }
  if (judged->outcome != std::string_view("rotated")) return Watch::unchanged;
  std::fprintf(stderr,
               "[%s] trust root file %s holds v%llu, a valid successor of v%llu: the node "
               "restarts under it\n",
               id, path.c_str(), static_cast<unsigned long long>(judged->root.version()),
               static_cast<unsigned long long>(judged->previous_version));
  return Watch::successor;
}

}  // namespace

int run(const std::string& config_file) {
  // Signals are taken synchronously, and blocked first: before any thread starts, so that all
  // inherit the mask, and before the keys are loaded (seconds, with a passphrase), so that a
  // SIGTERM while the node starts stops it cleanly once it has started instead of killing it
  // half-way (exit 143 to a supervisor that waits for it).
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGHUP);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &set, nullptr);
  auto config = config::load(config_file);
  if (!config.ok()) {
    std::fprintf(stderr, "run: %s\n", config.status().reason().c_str());
    return config.status().code() == Code::io ? exit_io : exit_usage;
  }
  // Exactly what `config check` checks, first: a bad file or address fails here, never later.
  SystemClock clock;
  if (Status prepared = node::prepare(*config, clock); !prepared.ok()) {
    std::fprintf(stderr, "run: %s\n", prepared.reason().c_str());
    return prepared.code() == Code::io          ? exit_io
           : prepared.code() == Code::malformed ? exit_usage
                                                : exit_failed;
  }
  // One running node per store, for the node's whole life (this function's): a second `run` on
  // the same store stops here, naming the holder.
  auto lock = store::NodeLock::acquire(config->store);
  if (!lock.ok()) {
    std::fprintf(stderr, "run: %s\n", lock.status().reason().c_str());
    return lock.status().code() == Code::io ? exit_io : exit_failed;
  }
  const std::string root_file = config->keys ? config->keys->trust_root : std::string();
  for (;;) {
    // Stamped before the role reads the file: a change made while it starts is judged after.
    FileStamp seen = root_file.empty() ? FileStamp{} : stamp_of(root_file);
    auto running = start_role(*config, clock);
    if (!running.ok()) {
      std::fprintf(stderr, "run: %s\n", running.status().reason().c_str());
      return exit_code_of(running.status());
    }
    bool restart = false;
    for (;;) {
      const timespec second{1, 0};
      const int sig = sigtimedwait(&set, nullptr, &second);
      if (sig == SIGHUP) {
        running->on_hup();
        continue;
      }
      if (sig > 0) break;  // SIGINT, SIGTERM
      if (root_file.empty()) continue;
      const FileStamp now = stamp_of(root_file);
      if (now == seen) continue;
      seen = now;
      if (judge_changed_root(*config, clock) == Watch::successor) {
        restart = true;
        break;
      }
    }
    running->stop();
    running->say_stopped();
    if (!restart) return exit_ok;
  }
}

}  // namespace cg::cli
