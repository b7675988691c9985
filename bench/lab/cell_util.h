// Helpers shared by `cellgate-lab demo` and `cellgate-lab bench`, which run a whole cell of node
// processes on loopback and read what each node counted.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>

#include "schemas/item.capnp.h"

namespace cg::lab {

using SteadyClock = std::chrono::steady_clock;

inline double seconds_since(SteadyClock::time_point t) {
  return std::chrono::duration<double>(SteadyClock::now() - t).count();
}

// The `cellgate` binary the node processes run (`cellgate run --config FILE`): the one beside
// this executable, else the one this build made (CG_CELLGATE_BINARY), else the first on PATH;
// "cellgate" when there is none (starting a node then fails, naming it).
std::string cellgate_binary();

// One sample of a node's exposition; 0 when the node did not answer or lacks it.
double sample(const std::string& exposition, const std::string& name, const std::string& node,
              const std::string& label = "", const std::string& value = "");

// The node's metrics page, or "" when it does not answer within 2 s.
std::string scrape_or_empty(std::uint16_t port);

// "routine", "priority", "immediate", "flash".
const char* precedence_name(schema::Precedence p);

}  // namespace cg::lab
