// lwgatectl: the operator's CLI of lwgated, a pure D-Bus client (see lwgatectl(1)).
#include "cli/commands.h"

int main(int argc, char** argv) {
  return lwgate::cli::run(argc, argv);
}
