module pytorch-chart/hack/images/pause

go 1.22
