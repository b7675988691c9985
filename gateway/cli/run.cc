// `cellgate run --config node.toml`: one node role per process: gateway, relay or receiver.
#include <signal.h>

#include <cstdio>

#include "gateway/cli/cli.h"
#include "gateway/common/clock.h"
#include "gateway/config/config.h"
#include "gateway/node/node_common.h"
#include "gateway/roles/gateway/gateway.h"
#include "gateway/roles/receiver/receiver.h"
#include "gateway/roles/relay/relay.h"
#include "gateway/store/store.h"

namespace cg::cli {

int run(const std::string& config_file) {
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
  // Signals are taken synchronously: SIGHUP re-reads the rules bundle, SIGINT/SIGTERM stop.
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGHUP);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &set, nullptr);  // before any thread starts, so all inherit it
  if (config->role == config::Role::receiver) {
    auto receiver = node::ReceiverNode::start(*config, clock);
    if (!receiver.ok()) {
      std::fprintf(stderr, "run: %s\n", receiver.status().reason().c_str());
      return receiver.status().code() == Code::io ? exit_io : exit_failed;
    }
    std::fprintf(stderr, "[%s] receiver running: consumers at %s\n", config->id.c_str(),
                 (*receiver)->deliver_endpoint().c_str());
    int sig = 0;
    while (sigwait(&set, &sig) == 0 && sig == SIGHUP) {
    }
    (*receiver)->stop();
    const auto& c = (*receiver)->counters();
    std::fprintf(
        stderr,
        "[%s] stopped: %llu received, %llu stored for consumers, %llu refused, %llu duplicates\n",
        config->id.c_str(), static_cast<unsigned long long>(c.received.load()),
        static_cast<unsigned long long>(c.stored.load()),
        static_cast<unsigned long long>(c.refused.load()),
        static_cast<unsigned long long>(c.duplicates.load()));
    return exit_ok;
  }
  if (config->role == config::Role::relay) {
    auto relay = node::RelayNode::start(*config, clock);
    if (!relay.ok()) {
      std::fprintf(stderr, "run: %s\n", relay.status().reason().c_str());
      return relay.status().code() == Code::io ? exit_io : exit_failed;
    }
    std::fprintf(stderr, "[%s] relay running\n", config->id.c_str());
    int sig = 0;
    while (sigwait(&set, &sig) == 0 && sig == SIGHUP) {
    }
    (*relay)->stop();
    const auto& c = (*relay)->counters();
    std::fprintf(stderr,
                 "[%s] stopped: %llu received, %llu relayed, refused %llu origin / %llu replay / "
                 "%llu oversight\n",
                 config->id.c_str(), static_cast<unsigned long long>(c.received.load()),
                 static_cast<unsigned long long>(c.relayed.load()),
                 static_cast<unsigned long long>(c.refused_origin.load()),
                 static_cast<unsigned long long>(c.refused_replay.load()),
                 static_cast<unsigned long long>(c.refused_oversight.load()));
    return exit_ok;
  }
  auto node = node::GatewayNode::start(*config, clock);
  if (!node.ok()) {
    std::fprintf(stderr, "run: %s\n", node.status().reason().c_str());
    return node.status().code() == Code::io ? exit_io : exit_failed;
  }
  std::fprintf(stderr, "[%s] gateway running: ingest %s, rules bundle v%llu\n", config->id.c_str(),
               (*node)->ingest_endpoint().c_str(),
               static_cast<unsigned long long>((*node)->rules_version()));
  for (;;) {
    int sig = 0;
    if (sigwait(&set, &sig) != 0) break;
    if (sig == SIGHUP) {
      auto v = (*node)->reload_rules();
      std::fprintf(stderr, "[%s] SIGHUP: %s\n", config->id.c_str(),
                   v.ok() ? ("rules bundle v" + std::to_string(*v) + " in use").c_str()
                          : v.status().reason().c_str());
      continue;
    }
    break;
  }
  (*node)->stop();
  const auto& c = (*node)->counters();
  std::fprintf(
      stderr,
      "[%s] stopped: %llu judged, %llu released, %llu blocked, %llu quarantined, %llu sent\n",
      config->id.c_str(), static_cast<unsigned long long>(c.items_judged.load()),
      static_cast<unsigned long long>(c.released.load()),
      static_cast<unsigned long long>(c.blocked.load()),
      static_cast<unsigned long long>(c.quarantined.load()),
      static_cast<unsigned long long>(c.envelopes_sent.load()));
  return exit_ok;
}

}  // namespace cg::cli
