# golden_regenerates when CMake found no python3: reported as skipped (tests/CMakeLists.txt's
# SKIP_REGULAR_EXPRESSION matches the "SKIP:" line), or a failure when the environment variable CI is set.
set(reason "python3-torch is missing: no python3 was found to run tests/golden/check_regenerates.py; install Debian's python3-torch and python3-numpy (apt-get install python3-torch python3-numpy)")
if(DEFINED ENV{CI})
  message(FATAL_ERROR "FAIL: ${reason}; CI is set, so this check must run")
endif()
message("SKIP: ${reason}")
