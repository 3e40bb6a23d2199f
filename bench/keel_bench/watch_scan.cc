#include "bench/keel_bench/watch_scan.h"

#include <google/protobuf/io/coded_stream.h>
#include <google/protobuf/wire_format_lite.h>

#include <algorithm>

namespace keel::bench {
namespace {

using google::protobuf::internal::WireFormatLite;
using google::protobuf::io::CodedInputStream;

// Field numbers of etcd's rpc.proto and kv.proto.
constexpr int kResponseHeader = 1, kWatchId = 2, kCreated = 3, kCanceled = 4, kCompactRevision = 5,
              kCancelReason = 6, kFragment = 7, kEvents = 11;
constexpr int kHeaderRevision = 3;
constexpr int kEventType = 1, kEventKv = 2;
constexpr int kKvKey = 1, kKvModRevision = 3, kKvValue = 5;

// The bytes of a length-delimited field, as a view into the input buffer.
bool ReadBytes(CodedInputStream* in, const uint8_t* base, std::string_view* out) {
  uint32_t length;
  if (!in->ReadVarint32(&length)) return false;
  const int offset = in->CurrentPosition();
  if (!in->Skip(static_cast<int>(length))) return false;
  *out = std::string_view(reinterpret_cast<const char*>(base) + offset, length);
  return true;
}

bool ReadInt64(CodedInputStream* in, int64_t* out) {
  uint64_t v;
  if (!in->ReadVarint64(&v)) return false;
  *out = static_cast<int64_t>(v);
  return true;
}

bool ReadBool(CodedInputStream* in, bool* out) {
  uint64_t v;
  if (!in->ReadVarint64(&v)) return false;
  *out = v != 0;
  return true;
}

// Runs `field(in, number, wire_type)` for each field of the length-delimited message that
// starts at the stream's position; `field` returns false to have the field skipped.
template <typename F>
bool ForEachField(CodedInputStream* in, F&& field) {
  for (;;) {
    const uint32_t tag = in->ReadTag();
    if (tag == 0) return in->ConsumedEntireMessage();  // false for a zero tag in the data
    const int number = static_cast<int>(WireFormatLite::GetTagFieldNumber(tag));
    const auto wire_type = WireFormatLite::GetTagWireType(tag);
    int handled = field(number, wire_type);  // 1 handled, 0 skip, -1 error
    if (handled < 0) return false;
    if (handled == 0 && !WireFormatLite::SkipField(in, tag)) return false;
  }
}

bool ScanMessage(CodedInputStream* in, const uint8_t* base,
                 bool (*scan)(CodedInputStream*, const uint8_t*, void*), void* out) {
  uint32_t length;
  if (!in->ReadVarint32(&length)) return false;
  // PushLimit clamps to the enclosing limit, which would accept a truncated message.
  if (length > static_cast<uint32_t>(std::max(0, in->BytesUntilLimit()))) return false;
  const auto limit = in->PushLimit(static_cast<int>(length));
  const bool ok = scan(in, base, out);
  if (!ok || in->BytesUntilLimit() != 0) return false;
  in->PopLimit(limit);
  return true;
}

constexpr auto kVarint = WireFormatLite::WIRETYPE_VARINT;
constexpr auto kBytes = WireFormatLite::WIRETYPE_LENGTH_DELIMITED;

bool ScanKeyValue(CodedInputStream* in, const uint8_t* base, void* out) {
  auto* ev = static_cast<WatchEventView*>(out);
  return ForEachField(in, [&](int number, WireFormatLite::WireType type) -> int {
    if (number == kKvKey && type == kBytes) return ReadBytes(in, base, &ev->key) ? 1 : -1;
    if (number == kKvValue && type == kBytes) return ReadBytes(in, base, &ev->value) ? 1 : -1;
    if (number == kKvModRevision && type == kVarint)
      return ReadInt64(in, &ev->mod_revision) ? 1 : -1;
    return 0;
  });
}

bool ScanEvent(CodedInputStream* in, const uint8_t* base, void* out) {
  auto* ev = static_cast<WatchEventView*>(out);
  return ForEachField(in, [&](int number, WireFormatLite::WireType type) -> int {
    if (number == kEventType && type == kVarint) {
      int64_t t;
      if (!ReadInt64(in, &t)) return -1;
      ev->type = static_cast<int>(t);
      return 1;
    }
    if (number == kEventKv && type == kBytes)
      return ScanMessage(in, base, ScanKeyValue, ev) ? 1 : -1;
    return 0;
  });
}

bool ScanHeader(CodedInputStream* in, const uint8_t* base, void* out) {
  auto* r = static_cast<WatchResponseView*>(out);
  return ForEachField(in, [&](int number, WireFormatLite::WireType type) -> int {
    if (number == kHeaderRevision && type == kVarint)
      return ReadInt64(in, &r->header_revision) ? 1 : -1;
    return 0;
  });
}

}  // namespace

bool ScanWatchResponse(const uint8_t* data, size_t size, WatchResponseView* response,
                       std::vector<WatchEventView>* events) {
  *response = WatchResponseView();
  events->clear();
  if (size > static_cast<size_t>(INT32_MAX)) return false;
  CodedInputStream in(data, static_cast<int>(size));
  in.SetTotalBytesLimit(INT32_MAX);
  return ForEachField(&in, [&](int number, WireFormatLite::WireType type) -> int {
    switch (number) {
      case kResponseHeader:
        if (type != kBytes) return 0;
        return ScanMessage(&in, data, ScanHeader, response) ? 1 : -1;
      case kWatchId:
        if (type != kVarint) return 0;
        return ReadInt64(&in, &response->watch_id) ? 1 : -1;
      case kCreated:
        if (type != kVarint) return 0;
        return ReadBool(&in, &response->created) ? 1 : -1;
      case kCanceled:
        if (type != kVarint) return 0;
        return ReadBool(&in, &response->canceled) ? 1 : -1;
      case kCompactRevision:
        if (type != kVarint) return 0;
        return ReadInt64(&in, &response->compact_revision) ? 1 : -1;
      case kCancelReason:
        if (type != kBytes) return 0;
        return ReadBytes(&in, data, &response->cancel_reason) ? 1 : -1;
      case kFragment:
        if (type != kVarint) return 0;
        return ReadBool(&in, &response->fragment) ? 1 : -1;
      case kEvents:
        if (type != kBytes) return 0;
        events->emplace_back();
        return ScanMessage(&in, data, ScanEvent, &events->back()) ? 1 : -1;
      default:
        return 0;
    }
  });
}

}  // namespace keel::bench
