import WardPlan
