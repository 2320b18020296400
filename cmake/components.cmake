# Adds every immediate subfolder of the current source dir that has a CMakeLists.txt.
# Components link to each other by target name, so their order does not matter.
function(xen9p_add_components)
    file(GLOB children LIST_DIRECTORIES true RELATIVE ${CMAKE_CURRENT_SOURCE_DIR}
         ${CMAKE_CURRENT_SOURCE_DIR}/*)
    list(SORT children)
    foreach(child IN LISTS children)
        if(IS_DIRECTORY ${CMAKE_CURRENT_SOURCE_DIR}/${child}
           AND EXISTS ${CMAKE_CURRENT_SOURCE_DIR}/${child}/CMakeLists.txt)
            add_subdirectory(${child})
        endif()
    endforeach()
endfunction()

# A Boost.Test executable registered with ctest.
#   xen9p_add_test(NAME name LABELS l1 [l2] SOURCES a.cpp ... LIBS lib ... [TIMEOUT s]
#                  [ARGS test-arguments ...])
function(xen9p_add_test)
    cmake_parse_arguments(T "" "NAME;TIMEOUT" "LABELS;SOURCES;LIBS;ARGS" ${ARGN})
    add_executable(${T_NAME} ${T_SOURCES})
    xen9p_target_defaults(${T_NAME})
    target_compile_definitions(${T_NAME} PRIVATE BOOST_TEST_DYN_LINK)
    target_link_libraries(${T_NAME} PRIVATE ${T_LIBS} Boost::unit_test_framework)
    add_test(NAME ${T_NAME} COMMAND ${T_NAME} ${T_ARGS})
    if(NOT T_TIMEOUT)
        set(T_TIMEOUT 300)
    endif()
    set_tests_properties(${T_NAME} PROPERTIES LABELS "${T_LABELS}" TIMEOUT ${T_TIMEOUT})
endfunction()
