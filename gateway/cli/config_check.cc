#include <cstdio>

#include "gateway/cli/cli.h"
#include "gateway/common/clock.h"
#include "gateway/common/text.h"
#include "gateway/config/config.h"
#include "gateway/node/node_common.h"

namespace cg::cli {

// `run` without the store and the sockets: the same config::load and node::prepare, so that
// what check calls ok, run starts (up to the store lock and the binds).
int config_check(const std::string& file, bool json) {
  auto c = config::load(file);
  if (c.ok()) {
    Status prepared = node::prepare(*c, SystemClock());
    if (!prepared.ok()) c = prepared;
  }
  if (!c.ok()) {
    if (json) {
      std::printf("{\"ok\":false,\"code\":\"%s\",\"reason\":\"%s\"}\n",
                  std::string(code_name(c.status().code())).c_str(),
                  json_escape(c.status().reason()).c_str());
    } else {
      std::printf("%s\n", c.status().reason().c_str());
    }
    // As `run`: unreadable 3, invalid 2, a key or trust root that does not verify 1.
    const Code code = c.status().code();
    return code == Code::io ? exit_io : code == Code::malformed ? exit_usage : exit_failed;
  }
  if (json) {
    std::printf("{\"ok\":true,\"id\":\"%s\",\"role\":\"%s\"}\n", json_escape(c->id).c_str(),
                std::string(config::role_name(c->role)).c_str());
  } else {
    std::printf("%s: ok (%s %s of party %s, store %s)\n", file.c_str(),
                std::string(config::role_name(c->role)).c_str(), c->id.c_str(), c->party.c_str(),
                c->store.c_str());
    // Whether the signing key is separated from the filter (issue 17, SECURITY.md).
    if (c->role == config::Role::gateway) {
      std::printf(c->guard ? "  release guard at %s holds the signing key\n"
                           : "  no [guard]: this process holds the signing key and runs its own "
                             "release guard (a lab, not a deployment)%s\n",
                  c->guard ? c->guard->endpoint.c_str() : "");
    }
  }
  return exit_ok;
}

}  // namespace cg::cli
