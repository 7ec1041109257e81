#pragma once
// lwgatectl's verbs (networkctl/mmcli style): the CLI11 command line, one function per verb,
// and the exit codes of exit_codes.h. main.cpp only calls run().
namespace lwgate::cli {

int run(int argc, char** argv);

}  // namespace lwgate::cli
