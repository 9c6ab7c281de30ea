# Compiles files of the source tree into one C++ table, keyed by their path
# relative to the source root ("migrations/0001_history.sql"). The bytes are
# written as hex so no content can break the generated source.
function(moonshift_embed out files)
  set(generator ${CMAKE_SOURCE_DIR}/cmake/embed_gen.cmake)
  add_custom_command(
    OUTPUT ${out}
    COMMAND ${CMAKE_COMMAND} -DOUT=${out} -DROOT=${CMAKE_SOURCE_DIR} "-DFILES=${files}" -P ${generator}
    DEPENDS ${files} ${generator}
    COMMENT "Embedding migrations/, local/, scripts/, hooks/ and assets/"
    VERBATIM)  # FILES is a ;-list: without VERBATIM the shell splits it
endfunction()
