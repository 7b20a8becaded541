# Helpers shared by every subsystem's CMakeLists.txt.

find_package(PkgConfig REQUIRED)
find_package(Python3 REQUIRED COMPONENTS Interpreter)
# Debian's pytest/numpy/onnx are installed for the system interpreter.
set(GD_PYTHON /usr/bin/python3 CACHE FILEPATH "Python with Debian's pytest")

# Libraries linked into the girder binary, in dependency order (later = lower).
define_property(GLOBAL PROPERTY GD_CLI_LIBS BRIEF_DOCS "libs" FULL_DOCS "libs")
function(gd_register_cli_lib lib)
  set_property(GLOBAL APPEND PROPERTY GD_CLI_LIBS ${lib})
endfunction()

# gd_add_unit_test(NAME name SOURCES ... [LIBS ...]): a Criterion test binary under CTest.
function(gd_add_unit_test)
  cmake_parse_arguments(T "" "NAME;TIMEOUT" "SOURCES;LIBS" ${ARGN})
  add_executable(${T_NAME} ${T_SOURCES})
  target_link_libraries(${T_NAME} PRIVATE ${T_LIBS} criterion)
  add_test(NAME ${T_NAME} COMMAND ${T_NAME} --jobs 1 --short-filename)
  set_tests_properties(${T_NAME} PROPERTIES LABELS unit)
  if(T_TIMEOUT)
    set_tests_properties(${T_NAME} PROPERTIES TIMEOUT ${T_TIMEOUT})
  endif()
endfunction()

# gd_add_pytest(NAME name FILE path [TIMEOUT s]): runs one pytest file against the built binary.
function(gd_add_pytest)
  cmake_parse_arguments(T "" "NAME;FILE;TIMEOUT" "" ${ARGN})
  add_test(NAME ${T_NAME}
           COMMAND ${GD_PYTHON} -m pytest -q -p no:cacheprovider ${T_FILE})
  set_tests_properties(${T_NAME} PROPERTIES LABELS integration
    ENVIRONMENT "GIRDER_BIN=$<TARGET_FILE:girder>;GIRDER_SRC=${CMAKE_SOURCE_DIR};GIRDER_SANITIZED=$<BOOL:${GD_SANITIZE}>")
  if(T_TIMEOUT)
    set_tests_properties(${T_NAME} PROPERTIES TIMEOUT ${T_TIMEOUT})
  endif()
endfunction()

# gd_add_fuzz(NAME name SOURCES ... LIBS ... CORPUS dir [SECONDS n]):
# with GD_FUZZ (clang) a libFuzzer binary run for a bounded time; otherwise the same
# driver linked with a replay main that runs every corpus file once (a regression test).
function(gd_add_fuzz)
  cmake_parse_arguments(T "" "NAME;CORPUS;SECONDS" "SOURCES;LIBS" ${ARGN})
  if(NOT T_SECONDS)
    set(T_SECONDS 20)
  endif()
  if(GD_FUZZ)
    add_executable(${T_NAME} ${T_SOURCES})
    target_compile_options(${T_NAME} PRIVATE -fsanitize=fuzzer)
    target_link_options(${T_NAME} PRIVATE -fsanitize=fuzzer)
    target_link_libraries(${T_NAME} PRIVATE ${T_LIBS})
    add_test(NAME ${T_NAME}
             COMMAND ${CMAKE_COMMAND} -E env ${CMAKE_SOURCE_DIR}/tests/fuzz/run-fuzz.sh
                     $<TARGET_FILE:${T_NAME}> ${T_CORPUS} ${T_SECONDS})
  else()
    add_executable(${T_NAME} ${T_SOURCES} ${CMAKE_SOURCE_DIR}/tests/fuzz/replay_main.c)
    target_link_libraries(${T_NAME} PRIVATE ${T_LIBS})
    add_test(NAME ${T_NAME} COMMAND ${T_NAME} ${T_CORPUS})
  endif()
  set_tests_properties(${T_NAME} PROPERTIES LABELS fuzz TIMEOUT 600)
endfunction()
