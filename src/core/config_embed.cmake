# cmake -DIN=file -DOUT=file.c [-DNAME=symbol] -P config_embed.cmake
# Turns a file (the default YAML config; the status page) into a NUL-terminated C array
# NAME[] with NAME_len bytes (hex bytes, so no escaping can go wrong).
if(NOT NAME)
  set(NAME gd__default_config_yaml)
endif()
file(READ ${IN} hex HEX)
string(LENGTH "${hex}" nhex)
math(EXPR nbytes "${nhex} / 2")
string(REGEX REPLACE "([0-9a-f][0-9a-f])" "0x\\1," body "${hex}")
string(REGEX REPLACE "(0x..,0x..,0x..,0x..,0x..,0x..,0x..,0x..,0x..,0x..,0x..,0x..,)" "\\1\n" body "${body}")
file(WRITE ${OUT}.tmp "/* Generated from ${IN} by config_embed.cmake: do not edit. */\n"
  "extern const char ${NAME}[];\n"
  "extern const unsigned long ${NAME}_len;\n"
  "const char ${NAME}[] = {\n${body}0x00};\n"
  "const unsigned long ${NAME}_len = ${nbytes};\n")
file(RENAME ${OUT}.tmp ${OUT})
