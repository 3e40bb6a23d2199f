#include "server/rpc_fallback.h"

#include <string>

#include "google/protobuf/io/coded_stream.h"
#include "google/protobuf/wire_format_lite.h"
#include "grpcpp/support/proto_buffer_reader.h"
#include "server/rpc_loop.h"

namespace keel::server {
namespace {

constexpr char kHealthCheck[] = "/grpc.health.v1.Health/Check";

// grpc.health.v1.HealthCheckRequest { string service = 1; }: puts the service name in
// `service`; false if the message does not parse.
bool ParseHealthCheckService(grpc::ByteBuffer* buffer, std::string* service) {
  grpc::ProtoBufferReader reader(buffer);
  google::protobuf::io::CodedInputStream in(&reader);
  service->clear();
  while (uint32_t tag = in.ReadTag()) {
    if (tag == ((1 << 3) | 2)) {
      uint32_t size = 0;
      if (!in.ReadVarint32(&size) || !in.ReadString(service, static_cast<int>(size))) return false;
    } else if (!google::protobuf::internal::WireFormatLite::SkipField(&in, tag)) {
      return false;
    }
  }
  return in.ConsumedEntireMessage();
}

// grpc.health.v1.HealthCheckResponse { ServingStatus status = 1; } with SERVING (1).
grpc::ByteBuffer ServingResponse() {
  static const char kServing[] = {0x08, 0x01};
  grpc::Slice slice(kServing, sizeof(kServing));
  return grpc::ByteBuffer(&slice, 1);
}

class FallbackCall final : public RpcTag {
 public:
  static void Listen(grpc::AsyncGenericService* service, grpc::ServerCompletionQueue* cq) {
    new FallbackCall(service, cq);
  }

  void Proceed(bool ok) override {
    switch (state_) {
      case State::kWaiting:
        if (!ok) break;
        Listen(service_, cq_);
        if (context_.method() == kHealthCheck) {
          state_ = State::kReading;
          stream_.Read(&request_, this);
        } else {
          state_ = State::kFinishing;
          stream_.Finish(grpc::Status(grpc::StatusCode::UNIMPLEMENTED, ""), this);
        }
        return;
      case State::kReading: {
        std::string name;
        state_ = State::kFinishing;
        if (!ok || !ParseHealthCheckService(&request_, &name)) {
          stream_.Finish(grpc::Status(grpc::StatusCode::INVALID_ARGUMENT, "bad request"), this);
        } else if (!name.empty()) {
          stream_.Finish(grpc::Status(grpc::StatusCode::NOT_FOUND, "unknown service"), this);
        } else {
          stream_.WriteAndFinish(ServingResponse(), grpc::WriteOptions(), grpc::Status::OK, this);
        }
        return;
      }
      case State::kFinishing:
        break;
    }
    delete this;
  }

 private:
  enum class State { kWaiting, kReading, kFinishing };

  FallbackCall(grpc::AsyncGenericService* service, grpc::ServerCompletionQueue* cq)
      : service_(service), cq_(cq) {
    service_->RequestCall(&context_, &stream_, cq_, cq_, this);
  }

  grpc::AsyncGenericService* service_;
  grpc::ServerCompletionQueue* cq_;
  grpc::GenericServerContext context_;
  grpc::GenericServerAsyncReaderWriter stream_{&context_};
  grpc::ByteBuffer request_;
  State state_ = State::kWaiting;
};

}  // namespace

void ServeFallback(grpc::AsyncGenericService* service, grpc::ServerCompletionQueue* cq) {
  FallbackCall::Listen(service, cq);
}

}  // namespace keel::server
