#include "bench/lab/cell_util.h"

#include <filesystem>

#include "bench/lab/deploy/deploy.h"

namespace cg::lab {

double sample(const std::string& exposition, const std::string& name, const std::string& node,
              const std::string& label, const std::string& value) {
  std::string s = name + "{node=\"" + node + "\"";
  if (!label.empty()) s += "," + label + "=\"" + value + "\"";
  s += "}";
  return deploy::metric(exposition, s).value_or(0);
}

std::string scrape_or_empty(std::uint16_t port) {
  auto s = deploy::scrape("127.0.0.1:" + std::to_string(port), 2000);
  return s.ok() ? *s : std::string();
}

const char* precedence_name(schema::Precedence p) {
  switch (p) {
    case schema::Precedence::ROUTINE:
      return "routine";
    case schema::Precedence::PRIORITY:
      return "priority";
    case schema::Precedence::IMMEDIATE:
      return "immediate";
    case schema::Precedence::FLASH:
      return "flash";
    case schema::Precedence::UNSPECIFIED:
      break;
  }
  return "?";
}

}  // namespace cg::lab
