// Command-line flags of `keel`, with etcd's names and defaults for what Keel implements.
#pragma once

#include <string>

#include "absl/status/statusor.h"
#include "server/server_config.h"

namespace keel::cmd {

struct KeelFlags {
  server::ServerConfig config;
  bool show_version = false;
  bool show_help = false;
};

// Accepts --flag=value, --flag value and Go's single-dash forms. An unknown flag is an error
// that names it.
absl::StatusOr<KeelFlags> ParseKeelFlags(int argc, char** argv);
std::string KeelUsage();

}  // namespace keel::cmd
