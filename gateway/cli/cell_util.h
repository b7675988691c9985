// Helpers shared by `cellgate demo` and `cellgate bench`, which run a whole cell of node
// processes on loopback and read what each node counted.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>

#include "schemas/item.capnp.h"

namespace cg::cli {

using SteadyClock = std::chrono::steady_clock;

inline double seconds_since(SteadyClock::time_point t) {
  return std::chrono::duration<double>(SteadyClock::now() - t).count();
}

// This executable's path (node processes are started from the same binary).
std::string self_binary();

// One sample of a node's exposition; 0 when the node did not answer or lacks it.
double sample(const std::string& exposition, const std::string& name, const std::string& node,
              const std::string& label = "", const std::string& value = "");

// The node's metrics page, or "" when it does not answer within 2 s.
std::string scrape_or_empty(std::uint16_t port);

// "routine", "priority", "immediate", "flash".
const char* precedence_name(schema::Precedence p);

}  // namespace cg::cli
