// Package guestfstest holds the checks the guest file-system readers'
// tests and fuzz targets share: properties every reader keeps, whatever
// the damage of the image it reads.
package guestfstest
