// cellgate-broken-filter <gateway.toml>: the gateway role compiled with
// CG_BROKEN_FILTER_FOR_TESTS (gateway/roles/gateway/gateway.cc): a deliberately broken filter
// that releases items topic-tagged "test-break-red|unremoved|banner|deny" wrongly. Built only
// for guard_cell_test, which shows that the release guard refuses each and nothing crosses.
// It runs until SIGTERM or SIGINT.
#include <signal.h>

#include <cstdio>

#include "gateway/common/clock.h"
#include "gateway/config/config.h"
#include "gateway/roles/gateway/gateway.h"

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: cellgate-broken-filter <gateway.toml>\n");
    return 2;
  }
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIGINT);
  pthread_sigmask(SIG_BLOCK, &set, nullptr);  // before any thread starts
  auto config = cg::config::load(argv[1]);
  if (!config.ok()) {
    std::fprintf(stderr, "%s\n", config.status().reason().c_str());
    return 1;
  }
  cg::SystemClock clock;
  auto node = cg::node::GatewayNode::start(*config, clock);
  if (!node.ok()) {
    std::fprintf(stderr, "%s\n", node.status().reason().c_str());
    return 1;
  }
  std::fprintf(stderr, "[%s] BROKEN FILTER (tests only) running\n", config->id.c_str());
  int sig = 0;
  sigwait(&set, &sig);
  (*node)->stop();
  return 0;
}
