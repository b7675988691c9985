#include <cstdio>

#include "gateway/cli/cli.h"
#include "gateway/common/text.h"
#include "gateway/config/config.h"

namespace cg::cli {

int config_check(const std::string& file, bool json) {
  auto c = config::load(file);
  if (!c.ok()) {
    if (json) {
      std::printf("{\"ok\":false,\"code\":\"%s\",\"reason\":\"%s\"}\n",
                  std::string(code_name(c.status().code())).c_str(),
                  json_escape(c.status().reason()).c_str());
    } else {
      std::printf("%s\n", c.status().reason().c_str());
    }
    return c.status().code() == Code::io ? exit_io : exit_usage;
  }
  if (json) {
    std::printf("{\"ok\":true,\"id\":\"%s\",\"role\":\"%s\"}\n", json_escape(c->id).c_str(),
                std::string(config::role_name(c->role)).c_str());
  } else {
    std::printf("%s: ok (%s %s of party %s, store %s)\n", file.c_str(),
                std::string(config::role_name(c->role)).c_str(), c->id.c_str(), c->party.c_str(),
                c->store.c_str());
  }
  return exit_ok;
}

}  // namespace cg::cli
