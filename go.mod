module github.com/sipxfer/sipxfer

go 1.23
