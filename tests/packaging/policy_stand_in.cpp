// A stand-in for lwgated on D-Bus, for dbus_policy_test.sh: it owns org.lwgate.Gateway1 and
// exports the object layout of the real API (root object with an ObjectManager, one device
// object) with one method and one read-only and one writable property per interface. The test
// checks the shipped system-bus policy against it; what the methods do does not matter.
//
//   policy_stand_in serve ADDRESS    own the name; print READY, then serve until the bus goes
//                                    away; print OWN-FAILED and exit 3 if the bus refuses
//   policy_stand_in call ADDRESS PATH MEMBER
//                                    call MEMBER on org.lwgate.Gateway1 without an interface
//                                    field (which dbus-send cannot); print OK or the error name
#include <systemd/sd-bus.h>

#include <cerrno>
#include <cstddef>
#include <cstdio>
#include <cstring>

namespace {

constexpr const char* kName = "org.lwgate.Gateway1";
constexpr const char* kRoot = "/org/lwgate/Gateway1";
constexpr const char* kDevice = "/org/lwgate/Gateway1/device/demo";

// One object's properties; sd-bus hands a property callback the object's userdata plus the
// property's offset, hence plain character arrays in a standard-layout struct.
struct Properties {
  char constant[32];
  char writable[32];
};
Properties root{"stand-in", "info"};
Properties device{"demo", ""};

int ping(sd_bus_message* m, void*, sd_bus_error*) {
  return sd_bus_reply_method_return(m, "s", "pong");
}

int getString(sd_bus*, const char*, const char*, const char*, sd_bus_message* reply, void* userdata,
              sd_bus_error*) {
  return sd_bus_message_append(reply, "s", static_cast<const char*>(userdata));
}

int setString(sd_bus*, const char*, const char*, const char*, sd_bus_message* value, void* userdata,
              sd_bus_error*) {
  const char* s = nullptr;
  int r = sd_bus_message_read(value, "s", &s);
  if (r < 0) return r;
  std::snprintf(static_cast<char*>(userdata), sizeof(Properties::writable), "%s", s);
  return 0;
}

// UNPRIVILEGED: sd-bus itself would otherwise demand CAP_SYS_ADMIN; here only the bus policy
// decides who may call.
const sd_bus_vtable kRootVtable[] = {
    SD_BUS_VTABLE_START(0), SD_BUS_METHOD("Ping", "", "s", ping, SD_BUS_VTABLE_UNPRIVILEGED),
    SD_BUS_PROPERTY("Version", "s", getString, offsetof(Properties, constant),
                    SD_BUS_VTABLE_PROPERTY_CONST),
    SD_BUS_WRITABLE_PROPERTY("LogLevel", "s", getString, setString, offsetof(Properties, writable),
                             SD_BUS_VTABLE_UNPRIVILEGED),
    SD_BUS_VTABLE_END};

const sd_bus_vtable kDeviceVtable[] = {
    SD_BUS_VTABLE_START(0), SD_BUS_METHOD("Ping", "", "s", ping, SD_BUS_VTABLE_UNPRIVILEGED),
    SD_BUS_PROPERTY("Endpoint", "s", getString, offsetof(Properties, constant),
                    SD_BUS_VTABLE_PROPERTY_CONST),
    SD_BUS_WRITABLE_PROPERTY("Tag", "s", getString, setString, offsetof(Properties, writable),
                             SD_BUS_VTABLE_UNPRIVILEGED),
    SD_BUS_VTABLE_END};

int connect(const char* address, sd_bus** bus) {
  int r = sd_bus_new(bus);
  if (r >= 0) r = sd_bus_set_address(*bus, address);
  if (r >= 0) r = sd_bus_set_bus_client(*bus, 1);
  if (r >= 0) r = sd_bus_start(*bus);
  if (r < 0)
    std::fprintf(stderr, "policy_stand_in: cannot connect to %s: %s\n", address, strerror(-r));
  return r;
}

int serve(const char* address) {
  sd_bus* bus = nullptr;
  if (connect(address, &bus) < 0) return 1;
  int r = sd_bus_add_object_manager(bus, nullptr, kRoot);
  if (r >= 0) r = sd_bus_add_object_vtable(bus, nullptr, kRoot, kName, kRootVtable, &root);
  if (r >= 0) {
    r = sd_bus_add_object_vtable(bus, nullptr, kDevice, "org.lwgate.Gateway1.Device", kDeviceVtable,
                                 &device);
  }
  if (r < 0) {
    std::fprintf(stderr, "policy_stand_in: cannot export objects: %s\n", strerror(-r));
    return 1;
  }
  r = sd_bus_request_name(bus, kName, 0);
  if (r < 0) {
    std::printf("OWN-FAILED %s\n", strerror(-r));
    return 3;
  }
  std::printf("READY\n");
  std::fflush(stdout);
  for (;;) {
    r = sd_bus_process(bus, nullptr);
    if (r < 0) break;  // the bus went away: the test is over
    if (r > 0) continue;
    r = sd_bus_wait(bus, UINT64_MAX);
    if (r < 0 && r != -EINTR) break;
  }
  sd_bus_flush_close_unref(bus);
  return 0;
}

int call(const char* address, const char* path, const char* member) {
  sd_bus* bus = nullptr;
  if (connect(address, &bus) < 0) return 2;
  sd_bus_message* m = nullptr;
  sd_bus_message* reply = nullptr;
  sd_bus_error error = SD_BUS_ERROR_NULL;
  int r = sd_bus_message_new_method_call(bus, &m, kName, path, nullptr, member);
  if (r >= 0) r = sd_bus_call(bus, m, 5'000'000, &error, &reply);
  if (r < 0) {
    std::printf("%s\n", error.name ? error.name : strerror(-r));
  } else {
    std::printf("OK\n");
  }
  sd_bus_error_free(&error);
  sd_bus_message_unref(reply);
  sd_bus_message_unref(m);
  sd_bus_flush_close_unref(bus);
  return r < 0 ? 1 : 0;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc == 3 && std::strcmp(argv[1], "serve") == 0) return serve(argv[2]);
  if (argc == 5 && std::strcmp(argv[1], "call") == 0) return call(argv[2], argv[3], argv[4]);
  std::fprintf(stderr, "usage: policy_stand_in serve ADDRESS | call ADDRESS PATH MEMBER\n");
  return 2;
}
