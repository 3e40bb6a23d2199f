// The etcd wire definitions must match etcd's names and numbers exactly: clients encode by
// number and route RPCs by full name. These tests read the generated descriptors.
#include <string>

#include "etcd/auth.pb.h"
#include "etcd/kv.pb.h"
#include "etcd/rpc.grpc.pb.h"
#include "etcd/rpc.pb.h"
#include "gtest/gtest.h"

namespace {

using google::protobuf::Descriptor;
using google::protobuf::DescriptorPool;
using google::protobuf::FieldDescriptor;

int FieldNumber(const Descriptor* message, const std::string& field) {
  const FieldDescriptor* f = message->FindFieldByName(field);
  return f == nullptr ? -1 : f->number();
}

TEST(EtcdProto, ServiceFullNamesAreEtcds) {
  const DescriptorPool* pool = DescriptorPool::generated_pool();
  for (const char* name : {"etcdserverpb.KV", "etcdserverpb.Watch", "etcdserverpb.Lease",
                           "etcdserverpb.Cluster", "etcdserverpb.Maintenance",
                           "etcdserverpb.Auth"}) {
    EXPECT_NE(pool->FindServiceByName(name), nullptr) << name;
  }
  EXPECT_EQ(mvccpb::KeyValue::descriptor()->full_name(), "mvccpb.KeyValue");
  EXPECT_EQ(mvccpb::Event::descriptor()->full_name(), "mvccpb.Event");
  EXPECT_EQ(authpb::User::descriptor()->full_name(), "authpb.User");
  EXPECT_EQ(authpb::Permission::descriptor()->full_name(), "authpb.Permission");
  EXPECT_EQ(authpb::Role::descriptor()->full_name(), "authpb.Role");
}

TEST(EtcdProto, GrpcMethodPathsAreEtcds) {
  // gRPC routes by "/package.Service/Method"; the generated stub must use etcd's.
  const auto* kv = DescriptorPool::generated_pool()->FindServiceByName("etcdserverpb.KV");
  ASSERT_NE(kv, nullptr);
  for (const char* m : {"Range", "Put", "DeleteRange", "Txn", "Compact"}) {
    EXPECT_NE(kv->FindMethodByName(m), nullptr) << m;
  }
  const auto* watch = DescriptorPool::generated_pool()->FindServiceByName("etcdserverpb.Watch");
  ASSERT_NE(watch, nullptr);
  EXPECT_TRUE(watch->FindMethodByName("Watch")->client_streaming());
  EXPECT_TRUE(watch->FindMethodByName("Watch")->server_streaming());
  const auto* lease = DescriptorPool::generated_pool()->FindServiceByName("etcdserverpb.Lease");
  EXPECT_TRUE(lease->FindMethodByName("LeaseKeepAlive")->client_streaming());
  const auto* maint =
      DescriptorPool::generated_pool()->FindServiceByName("etcdserverpb.Maintenance");
  EXPECT_TRUE(maint->FindMethodByName("Snapshot")->server_streaming());
  EXPECT_EQ(maint->method_count(), 8);
  EXPECT_EQ(DescriptorPool::generated_pool()->FindServiceByName("etcdserverpb.Auth")
                ->method_count(),
            17);
  EXPECT_EQ(DescriptorPool::generated_pool()->FindServiceByName("etcdserverpb.Cluster")
                ->method_count(),
            5);
  EXPECT_EQ(lease->method_count(), 5);
  // The generated service class exists under the etcd names.
  etcdserverpb::KV::Service* unused = nullptr;
  (void)unused;
}

TEST(EtcdProto, FieldNumberTrapsMatchEtcd) {
  EXPECT_EQ(FieldNumber(etcdserverpb::Compare::descriptor(), "range_end"), 64);
  const auto* target_union = etcdserverpb::Compare::descriptor()->FindOneofByName("target_union");
  ASSERT_NE(target_union, nullptr);
  EXPECT_EQ(target_union->field_count(), 5);
  EXPECT_EQ(FieldNumber(etcdserverpb::Compare::descriptor(), "lease"), 8);
  EXPECT_EQ(FieldNumber(etcdserverpb::WatchResponse::descriptor(), "events"), 11);
  EXPECT_EQ(FieldNumber(etcdserverpb::LeaseGrantRequest::descriptor(), "TTL"), 1);
  EXPECT_EQ(FieldNumber(etcdserverpb::LeaseGrantRequest::descriptor(), "ID"), 2);
  EXPECT_EQ(FieldNumber(etcdserverpb::LeaseGrantResponse::descriptor(), "ID"), 2);
  EXPECT_EQ(FieldNumber(etcdserverpb::LeaseGrantResponse::descriptor(), "TTL"), 3);
  EXPECT_EQ(FieldNumber(etcdserverpb::LeaseGrantResponse::descriptor(), "error"), 4);
  EXPECT_EQ(FieldNumber(etcdserverpb::StatusResponse::descriptor(), "errors"), 8);
  EXPECT_EQ(FieldNumber(etcdserverpb::StatusResponse::descriptor(), "dbSizeInUse"), 9);
  EXPECT_EQ(FieldNumber(etcdserverpb::StatusResponse::descriptor(), "isLearner"), 10);
  EXPECT_EQ(FieldNumber(etcdserverpb::Member::descriptor(), "isLearner"), 5);
  EXPECT_EQ(FieldNumber(etcdserverpb::RangeRequest::descriptor(), "max_create_revision"), 13);
  EXPECT_EQ(FieldNumber(etcdserverpb::WatchCreateRequest::descriptor(), "fragment"), 8);
  EXPECT_EQ(FieldNumber(etcdserverpb::WatchCreateRequest::descriptor(), "watch_id"), 7);
  EXPECT_EQ(FieldNumber(etcdserverpb::RequestOp::descriptor(), "request_txn"), 4);
  EXPECT_EQ(FieldNumber(etcdserverpb::HashKVResponse::descriptor(), "compact_revision"), 3);
  EXPECT_EQ(FieldNumber(mvccpb::KeyValue::descriptor(), "lease"), 6);
  EXPECT_EQ(FieldNumber(mvccpb::Event::descriptor(), "prev_kv"), 3);
  EXPECT_EQ(FieldNumber(authpb::Role::descriptor(), "keyPermission"), 2);
}

TEST(EtcdProto, ExplicitZeroOperandIsDistinguishableFromAbsent) {
  // k8s sends `mod_revision == 0` to mean "the key does not exist": a oneof keeps the zero.
  etcdserverpb::Compare compare;
  compare.set_mod_revision(0);
  std::string wire = compare.SerializeAsString();
  etcdserverpb::Compare parsed;
  ASSERT_TRUE(parsed.ParseFromString(wire));
  EXPECT_EQ(parsed.target_union_case(), etcdserverpb::Compare::kModRevision);
}

TEST(EtcdProto, UpperCaseFieldsGiveLowerCaseAccessors) {
  etcdserverpb::LeaseGrantResponse response;
  response.set_id(7);
  response.set_ttl(60);
  etcdserverpb::Member member;
  member.add_peerurls("http://127.0.0.1:2380");
  member.set_islearner(true);
  EXPECT_EQ(response.ttl(), 60);
  EXPECT_EQ(member.peerurls_size(), 1);
}

}  // namespace
