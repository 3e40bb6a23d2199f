// Ctrl-C ends a run early but still prints its report: the first SIGINT or SIGTERM sets a flag
// that the waiting loops poll; a second one terminates the process the default way.
#pragma once

namespace keel::bench {

void InstallInterruptHandler();
bool Interrupted();

}  // namespace keel::bench
