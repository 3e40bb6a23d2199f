// A zero-copy reader of etcdserverpb.WatchResponse wire bytes. The watch command receives up to
// millions of events per second; decoding each response into a WatchResponse message would copy
// every key and value, so the streams read raw bytes (a generic gRPC stream) and this scanner
// returns views into them: the response's fields and, per event, its type, mod_revision, key
// and value. Unknown fields are skipped, as protobuf does.
//
// Pure and allocation-free once `events` has grown to the largest response's event count.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>
#include <vector>

namespace keel::bench {

struct WatchEventView {
  int type = 0;  // mvccpb.Event.EventType: 0 PUT, 1 DELETE
  int64_t mod_revision = 0;
  std::string_view key;
  std::string_view value;
};

struct WatchResponseView {
  int64_t header_revision = 0;
  int64_t watch_id = 0;
  bool created = false;
  bool canceled = false;
  bool fragment = false;
  int64_t compact_revision = 0;
  std::string_view cancel_reason;
};

// Fills *response and replaces *events with the response's events in wire order. Returns
// false on malformed input (the outputs are then unspecified).
bool ScanWatchResponse(const uint8_t* data, size_t size, WatchResponseView* response,
                       std::vector<WatchEventView>* events);

}  // namespace keel::bench
