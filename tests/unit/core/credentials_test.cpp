// The DTLS-PSK access rules (core/credentials.h) on their own and through the registration
// interface, with an in-memory credential table.
#include "gateway/core/credentials.h"

#include <gtest/gtest.h>

#include <map>
#include <set>

#include "gateway/core/registration_interface.h"
#include "tests/support/manual_clock.h"
#include "tests/unit/core/fake_store.h"

namespace lwgate::core {
namespace credentials_test {

class FakeCredentials final : public CredentialLookup {
 public:
  Result<std::optional<std::string>> endpointForIdentity(std::string_view identity) override {
    if (fail) return makeError(ErrorCode::kStorage, "disk gone");
    auto it = bound.find(std::string(identity));
    if (it == bound.end()) return std::optional<std::string>();
    return std::optional<std::string>(it->second);
  }
  Result<bool> endpointHasPsk(std::string_view endpoint) override {
    if (fail) return makeError(ErrorCode::kStorage, "disk gone");
    for (const auto& [id, ep] : bound) {
      if (ep == endpoint) return true;
    }
    return false;
  }
  std::map<std::string, std::string> bound;  // identity -> endpoint
  bool fail = false;
};

const Peer kNoSec{"udp", "192.0.2.7", 40000};
const Peer kDtls{"dtls", "192.0.2.7", 40001};
constexpr std::string_view kObjects = "</1/0>,</3/0>";

Request registerAs(std::string_view epQuery, const Peer& peer, std::string_view identity = {}) {
  Request r;
  r.method = Method::kPost;
  r.uriPath = {"rd"};
  r.uriQuery = {epQuery, "lt=300"};
  r.contentFormat = kFormatLinkFormat;
  r.payload = kObjects;
  r.peer = peer;
  r.pskIdentity = identity;
  return r;
}

Request onLocation(Method method, std::string_view location, const Peer& peer,
                   std::string_view identity = {}) {
  Request r;
  r.method = method;
  r.uriPath = {"rd", location};
  r.peer = peer;
  r.pskIdentity = identity;
  return r;
}

TEST(PskChecks, IdentityAndKeyBounds) {
  EXPECT_TRUE(checkPskIdentity("sensor-1").ok());
  EXPECT_TRUE(checkPskIdentity(std::string(kMaxPskIdentity, 'a')).ok());
  EXPECT_FALSE(checkPskIdentity("").ok());
  EXPECT_FALSE(checkPskIdentity(std::string(kMaxPskIdentity + 1, 'a')).ok());
  auto nul = checkPskIdentity(std::string("a\0b", 3));
  ASSERT_FALSE(nul.ok());
  EXPECT_EQ(nul.error().code, ErrorCode::kBadRequest);
  EXPECT_NE(nul.error().message.find("zero byte"), std::string::npos);

  const std::vector<std::uint8_t> key16(16, 0xab);
  EXPECT_TRUE(checkPskKey(key16).ok());
  EXPECT_FALSE(checkPskKey({}).ok());
  const std::vector<std::uint8_t> key65(kMaxPskKey + 1, 0xab);
  auto tooLong = checkPskKey(key65);
  ASSERT_FALSE(tooLong.ok());
  // Only the length is told, never a byte of the key.
  EXPECT_EQ(tooLong.error().message.find("ab"), std::string::npos);
}

TEST(PskChecks, IdentityTextIsPrintableOrHex) {
  EXPECT_EQ(pskIdentityText("sensor-1"), "sensor-1");
  EXPECT_EQ(pskIdentityText(std::string("\x01\xff", 2)), "hex:01ff");
  EXPECT_EQ(pskIdentityText("a b\n"), "hex:6120620a");
  // A printable identity that starts like the hex form is shown as hex, so the two never mix.
  EXPECT_EQ(pskIdentityText("hex:00"), "hex:6865783a3030");
}

TEST(EndpointAccess, DtlsIdentityActsOnlyAsItsEndpoint) {
  FakeCredentials creds;
  creds.bound["id-a"] = "dev-a";
  EXPECT_TRUE(checkEndpointAccess(creds, registerAs("ep=dev-a", kDtls, "id-a"), "dev-a").ok());
  auto other = checkEndpointAccess(creds, registerAs("ep=dev-b", kDtls, "id-a"), "dev-b");
  ASSERT_FALSE(other.ok());
  EXPECT_EQ(other.error().code, ErrorCode::kForbidden);
  EXPECT_NE(other.error().message.find("\"dev-a\""), std::string::npos) << other.error().message;
  // Removed after the handshake: refused at the next request.
  auto gone = checkEndpointAccess(creds, registerAs("ep=dev-a", kDtls, "id-x"), "dev-a");
  ASSERT_FALSE(gone.ok());
  EXPECT_EQ(gone.error().code, ErrorCode::kForbidden);
}

TEST(EndpointAccess, NoSecIsRefusedForEndpointsWithAPsk) {
  FakeCredentials creds;
  creds.bound["id-a"] = "dev-a";
  EXPECT_TRUE(checkEndpointAccess(creds, registerAs("ep=plain", kNoSec), "plain").ok());
  auto r = checkEndpointAccess(creds, registerAs("ep=dev-a", kNoSec), "dev-a");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, ErrorCode::kForbidden);
  EXPECT_NE(r.error().message.find("coaps"), std::string::npos);
}

TEST(EndpointAccess, StoreFailureIsAStorageError) {
  FakeCredentials creds;
  creds.fail = true;
  auto r = checkEndpointAccess(creds, registerAs("ep=x", kNoSec), "x");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, ErrorCode::kStorage);
}

class RegistrationAccessTest : public ::testing::Test {
 protected:
  RegistrationAccessTest()
      : registry(clock, store, {}, [this] { return "loc" + std::to_string(++counter); }),
        rd(registry, {}) {
    rd.setCredentials(&creds);
    creds.bound["id-a"] = "dev-a";
    creds.bound["id-b"] = "dev-b";
  }

  std::string registered(const Request& r) {
    Response out = rd.handle(r);
    EXPECT_EQ(out.code, Code::kCreated) << out.payload;
    return out.locationPath.size() == 2 ? out.locationPath[1] : std::string();
  }
  void expectForbidden(const Request& r) {
    const auto rows = store.rows.size();
    const auto size = registry.size();
    Response out = rd.handle(r);
    EXPECT_EQ(out.code, Code::kForbidden) << out.payload;
    EXPECT_TRUE(out.locationPath.empty());
    EXPECT_EQ(store.rows.size(), rows);
    EXPECT_EQ(registry.size(), size);
  }

  lwgate::testing::ManualClock clock;
  lwgate::testing::FakeStore store;
  FakeCredentials creds;
  int counter = 0;
  Registry registry;
  RegistrationInterface rd;
};

TEST_F(RegistrationAccessTest, RegisterOnlyWithTheBoundEndpointNameNothingStoredOtherwise) {
  expectForbidden(registerAs("ep=dev-b", kDtls, "id-a"));
  expectForbidden(registerAs("ep=dev-a", kNoSec));
  EXPECT_TRUE(store.rows.empty());
  const std::string loc = registered(registerAs("ep=dev-a", kDtls, "id-a"));
  EXPECT_EQ(registry.findByLocation(loc)->peer.transport, "dtls");
  // An endpoint nobody bound registers over NoSec as before.
  registered(registerAs("ep=plain", kNoSec));
}

TEST_F(RegistrationAccessTest, UpdateAndDeregisterOnlyOnTheIdentitysOwnRegistration) {
  const std::string a = registered(registerAs("ep=dev-a", kDtls, "id-a"));
  const std::string plain = registered(registerAs("ep=plain", kNoSec));
  const Registration before = *registry.findByLocation(a);

  // Another identity, or NoSec, on dev-a's location: 4.03, nothing changes.
  const Peer otherDtls{"dtls", "192.0.2.8", 5684};
  expectForbidden(onLocation(Method::kPost, a, otherDtls, "id-b"));
  expectForbidden(onLocation(Method::kDelete, a, otherDtls, "id-b"));
  expectForbidden(onLocation(Method::kPost, a, kNoSec));
  expectForbidden(onLocation(Method::kDelete, a, kNoSec));
  // A secured identity cannot touch a NoSec device's registration either.
  expectForbidden(onLocation(Method::kDelete, plain, otherDtls, "id-b"));
  EXPECT_EQ(registry.findByLocation(a)->updatedAt, before.updatedAt);
  ASSERT_NE(registry.findByLocation(plain), nullptr);

  // Its own identity, even from a new address and port.
  EXPECT_EQ(rd.handle(onLocation(Method::kPost, a, otherDtls, "id-a")).code, Code::kChanged);
  EXPECT_EQ(registry.findByLocation(a)->peer, otherDtls);
  EXPECT_EQ(rd.handle(onLocation(Method::kDelete, a, kDtls, "id-a")).code, Code::kDeleted);
  EXPECT_EQ(registry.findByLocation(a), nullptr);
}

TEST_F(RegistrationAccessTest, UnknownLocationIsStillNotFound) {
  EXPECT_EQ(rd.handle(onLocation(Method::kPost, "nowhere", kDtls, "id-a")).code, Code::kNotFound);
  EXPECT_EQ(rd.handle(onLocation(Method::kDelete, "nowhere", kNoSec)).code, Code::kNotFound);
}

TEST_F(RegistrationAccessTest, APskAddedLaterLocksTheNoSecRegistrationOut) {
  const std::string loc = registered(registerAs("ep=late", kNoSec));
  creds.bound["id-late"] = "late";
  expectForbidden(onLocation(Method::kPost, loc, kNoSec));
  // The device comes back over DTLS with its identity and may update the same registration.
  EXPECT_EQ(rd.handle(onLocation(Method::kPost, loc, kDtls, "id-late")).code, Code::kChanged);
}

TEST_F(RegistrationAccessTest, StoreFailureIsA500AndChangesNothing) {
  creds.fail = true;
  const auto before = store.rows.size();
  EXPECT_EQ(rd.handle(registerAs("ep=dev-a", kDtls, "id-a")).code, Code::kInternalServerError);
  EXPECT_EQ(store.rows.size(), before);
}

}  // namespace credentials_test
}  // namespace lwgate::core
